"""The app's modal screens, one a module: create a session, confirm a delete, open or merge a pull request
(landing), the fuzzy session switcher, and help. Each returns its answer to the app, which calls the engine."""
