"""Agents: what each agent CLI is (`base.Agent`, one module per agent, listed only in `registry`), the
per-session agent home it runs in, the agent's account in a sandbox, and the transcript reader.

See docs/agents.md for the protocol and the steps to add an agent.
"""
