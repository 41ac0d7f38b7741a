from clauderon_tui.cli import main

raise SystemExit(main())
