#!/usr/bin/python3
"""Reads an emissions.csv with pandas the way CodeCarbon's dashboard
(carbonboard, codecarbon/viz/data.py) does, and prints each project's
summary as JSON: the rows of the project sorted by timestamp, the totals of
duration, emissions and energy_consumed over them, the last row's place, the
country code upper-cased as the regional panel does, and the location line
"<region>, <country_name>".
    tests/tools/carbonboard_summary.py emissions.csv
"""
import json
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
out = {}
for project in df.project_name.unique():
    rows = df[df.project_name == project].sort_values(by="timestamp").to_dict("records")
    last = rows[-1]
    out[project] = {
        "rows": len(rows),
        "duration": float(sum(r["duration"] for r in rows)),
        "emissions": float(sum(r["emissions"] for r in rows)),
        "energy_consumed": float(sum(r["energy_consumed"] for r in rows)),
        "country_iso_code": last["country_iso_code"].upper(),  # fails on an empty cell (NaN)
        "location": f"{last['region']}, {last['country_name']}",
        "cpu_model": last["cpu_model"],
        "cpu_count": int(last["cpu_count"]),
        "ram_total_size": float(last["ram_total_size"]),
        "os": last["os"],
        "cpu_utilization_percent": float(last["cpu_utilization_percent"]),
        "ram_used_gb": float(last["ram_used_gb"]),
    }
print(json.dumps(out))
