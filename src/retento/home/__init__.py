"""The home page: one dashboard per role (manager, agent, analyst) with period and segment
filters; it reads the domains' ``home_*`` query functions and owns no tables."""
