"""Everything clauderon does with git: worktrees, running git safely on agent-written repositories, bundles,
landing on GitHub, following pull requests, syncing sandboxed commits back."""
