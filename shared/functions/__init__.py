"""The Azure Functions blueprints: thin translations between azure.functions types and ``shared.handlers``."""
