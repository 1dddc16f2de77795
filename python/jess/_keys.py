"""Keyword arguments to jess's key=value configuration strings (the CLI's keys, same validation)."""
from typing import Any, Dict, List


def overrides(keys: Dict[str, Any]) -> List[str]:
    out = []
    for k, v in keys.items():
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, float):
            text = repr(v)
        elif isinstance(v, (int, str)):
            text = str(v)
        else:
            raise TypeError(f"key '{k}': expected a bool, int, float or str, got {type(v).__name__}")
        out.append(f"{k}={text}")
    return out
