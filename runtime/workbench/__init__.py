"""What the workbench tabs read: a session's files (confined to its worktree), its diff, container facts, and the
same read inside a pod."""
