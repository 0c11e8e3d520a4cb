"""delve configs: the defaults of experiments/run/config.cpp, the merge, --set and sweeps."""
import json
import os
import re

from .errors import ConfigError

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def delve_defaults():
    """kDefaults of experiments/run/config.cpp, the defaults and schema of every config."""
    path = os.path.join(REPO, "experiments", "run", "config.cpp")
    with open(path) as f:
        m = re.search(r'kDefaults = R"json\((.*?)\)json"', f.read(), re.S)
    if not m:
        raise ConfigError(f"{path}: no kDefaults found")
    return json.loads(m.group(1))


def _merge(into, user, path):
    for key, value in user.items():
        where = f"{path}.{key}" if path else key
        if key not in into:
            raise ConfigError(f'unknown key "{where}"')
        if isinstance(into[key], dict) and isinstance(value, dict) and where != "sweep":
            _merge(into[key], value, where)
        else:
            into[key] = value


def parse_set(assignment):
    """--set a.b=value as delve reads it: JSON, else a bare word is a string."""
    key, eq, text = assignment.partition("=")
    if not eq or not key:
        raise ConfigError(f"--set {assignment}: expected key.path=value")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        if text[:1] in '[{"-0123456789':
            raise ConfigError(f"--set {assignment}: not valid JSON")
        value = text
    return key, value


def resolve_config(user, sets=()):
    """A config (a file's JSON, resolved or not) merged over delve's defaults, then the --set
    overrides; a swept key set by --set is pinned (its axis removed), as in delve run."""
    cfg = delve_defaults()
    _merge(cfg, user, "")
    for assignment in sets:
        key, value = parse_set(assignment)
        node, parts = cfg, key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f'--set {assignment}: unknown key "{key}"')
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f'--set {assignment}: unknown key "{key}"')
        node[parts[-1]] = value
        cfg["sweep"].pop(key, None)
    if cfg["sweep"]:
        raise ConfigError("the config sweeps " + ", ".join(cfg["sweep"]) + ": pin each with --set KEY=VALUE")
    return cfg


def load_config_file(path, sets=()):
    try:
        with open(path) as f:
            return resolve_config(json.load(f), sets)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: {e}")
