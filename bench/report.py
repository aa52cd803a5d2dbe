#!/usr/bin/env python3
"""Turn the raw measurements of scripts/bench into latest.md, latest.json and latest.svg.

usage: report.py RAW_DIR OUT_DIR

RAW_DIR holds meta.json, one file set per measurement (PATH.METRIC.REP.json,
.err, .ticks) and, when the VM ran, vm.jsonl (one record per line:
{"path", "metric", "rep", "value"...}). Every figure reported is the median of
the repetitions, with the minimum and maximum beside it.
"""
import json
import math
import os
import re
import statistics
import sys

USER_HZ = os.sysconf("SC_CLK_TCK")

ORDER = ["host", "veth", "nat", "proxy", "slirp4netns", "pasta", "rootlesskit", "graft-broker", "graft-egress",
         "graft-seccomp", "graft-seccomp-egress"]
# Further tables, each against its own baseline: (title, baseline, paths).
GROUPS = [
    ("UDP (iperf3 -u 1-stream, bench/rr -u request/response)", "host-udp",
     ["host-udp", "graft-broker-udp", "graft-egress-udp"]),
    ("IPv6 (::1)", "host6", ["host6", "graft-broker6", "graft-egress6"]),
]
# The peers rootless users pick today: graft's paired ratios over each are reported.
PEERS = ["slirp4netns", "pasta", "rootlesskit"]
VM_ORDER = ["vm-loopback", "vm-veth", "graft-kernel", "graft-kernel-egress"]

# key, label, unit, higher is better, decimals
METRICS = [
    ("throughput_gbps", "1-stream", "Gbit/s", True, 1),
    ("throughput4_gbps", "4-stream", "Gbit/s", True, 1),
    ("rr_p50_us", "RR p50", "µs", False, 1),
    ("rr_p99_us", "RR p99", "µs", False, 1),
    ("rr_block_p50_us", "RR p50 blocking", "µs", False, 1),
    ("conn_per_s", "conn/s", "", True, 0),
    ("cpu_s_per_gb", "CPU/GB", "CPU·s", False, 2),
    ("cpu_us_per_conn", "CPU/conn", "µs", False, 0),
]

LABELS = {
    "host": "host (loopback)",
    "veth": "veth (routed)",
    "nat": "nat (bridge + DNAT)",
    "proxy": "proxy (socat)",
    "slirp4netns": "slirp4netns (port fwd)",
    "pasta": "pasta (port fwd)",
    "rootlesskit": "rootlesskit (port fwd)",
    "graft-broker": "graft-broker (ingress)",
    "graft-egress": "graft-broker (egress)",
    "graft-seccomp": "graft-seccomp (ingress)",
    "graft-seccomp-egress": "graft-seccomp (egress)",
    "host-udp": "host UDP (loopback)",
    "graft-broker-udp": "graft-broker UDP (ingress)",
    "graft-egress-udp": "graft-broker UDP (egress)",
    "host6": "host IPv6 (::1)",
    "graft-broker6": "graft-broker IPv6 (ingress)",
    "graft-egress6": "graft-broker IPv6 (egress)",
    "vm-loopback": "VM loopback",
    "vm-veth": "VM veth (routed)",
    "graft-kernel": "graft-kernel (ingress)",
    "graft-kernel-egress": "graft-kernel (egress)",
}


def parse_host(raw):
    """Records {path, metric, rep, ...values} from the per-measurement files."""
    recs = []
    pat = re.compile(r"^(?P<path>[a-z0-9-]+)\.(?P<metric>tp1|tp4|rr|rrb|crr1|crr|utp|urr|brt)\.(?P<rep>\d+)\.json$")
    for name in sorted(os.listdir(raw)):
        m = pat.match(name)
        if not m:
            continue
        base = os.path.join(raw, name[: -len(".json")])
        try:
            with open(base + ".json") as f:
                text = f.read()
            ticks = int(open(base + ".ticks").read().strip() or 0)
        except (OSError, ValueError):
            continue
        rec = {"path": m["path"], "metric": m["metric"], "rep": int(m["rep"])}
        try:
            if m["metric"] in ("tp1", "tp4", "utp"):
                doc = json.loads(text)
                if "error" in doc:
                    continue
                end = doc["end"]["sum_received"]
                rec["gbps"] = end["bits_per_second"] / 1e9
                rec["bytes"] = end["bytes"]
                rec["cpu_s"] = ticks / USER_HZ
            else:
                rec.update(json.loads(text.strip().splitlines()[-1]))
                rec["cpu_s"] = ticks / USER_HZ
        except (ValueError, KeyError, IndexError):
            continue
        recs.append(rec)
    return recs


def values(recs):
    """{path: {metric_key: [values...]}} from records."""
    out = {}
    for r in recs:
        d = out.setdefault(r["path"], {})
        if r["metric"] in ("tp1", "utp"):
            d.setdefault("throughput_gbps", []).append(r["gbps"])
            if r.get("bytes") and r.get("cpu_s") is not None:
                d.setdefault("cpu_s_per_gb", []).append(r["cpu_s"] / (r["bytes"] / 1e9))
        elif r["metric"] == "tp4":
            d.setdefault("throughput4_gbps", []).append(r["gbps"])
        elif r["metric"] in ("rr", "urr"):
            d.setdefault("rr_p50_us", []).append(r["p50_us"])
            d.setdefault("rr_p99_us", []).append(r["p99_us"])
        elif r["metric"] == "rrb":
            d.setdefault("rr_block_p50_us", []).append(r["p50_us"])
            d.setdefault("rr_block_p99_us", []).append(r["p99_us"])
        elif r["metric"] in ("crr", "crr1"):
            # crr1: the same short connections with the client on the server's CPU.
            sfx = "_one_cpu" if r["metric"] == "crr1" else ""
            d.setdefault("conn_per_s" + sfx, []).append(r["conn_per_s"])
            if not sfx and r.get("connections") and r.get("cpu_s") is not None:
                # Busy time of every CPU during the run, per connection made.
                d.setdefault("cpu_us_per_conn", []).append(r["cpu_s"] * 1e6 / r["connections"])
            if "connect_us" in r:
                d.setdefault("connect_us" + sfx, []).append(r["connect_us"])
        elif r["metric"] == "brt":
            for k in ("single_p50_us", "single_p99_us", "single_mean_us", "batch_us_per_socket",
                      "floor_round_trip_us", "single_over_floor", "floor_block_us",
                      "single_p50_apart_us", "single_p50_together_us", "together_share", "switch_floor_us"):
                if k in r:
                    d.setdefault(k, []).append(r[k])
    return out


def paired(recs, baseline):
    """{path: {metric_key: [ratio per repetition]}}: each repetition's value over
    the baseline's value in the same repetition (the two were measured seconds
    apart, so slow drift of the machine cancels)."""
    byrep = {}
    for r in recs:
        one = values([r])
        for path, d in one.items():
            for k, v in d.items():
                byrep.setdefault((path, k), {})[r["rep"]] = v[0]
    out = {}
    for (path, k), reps in byrep.items():
        base = byrep.get((baseline, k), {})
        rs = [v / base[rep] for rep, v in reps.items() if base.get(rep)]
        if rs and path != baseline:
            out.setdefault(path, {})[k] = rs
    return out


def summarise(vals, baseline):
    """JSON rows: medians, spread and ratios to the baseline path."""
    rows = {}
    base = {k: statistics.median(v) for k, v in vals.get(baseline, {}).items() if v}
    for path, d in vals.items():
        row = {}
        spread = {}
        ratio = {}
        for k, v in d.items():
            if not v:
                continue
            med = statistics.median(v)
            row[k] = round(med, 4)
            spread[k] = [round(min(v), 4), round(max(v), 4)]
            if base.get(k):
                ratio[k] = round(med / base[k], 3)
        row["spread"] = spread
        row["n"] = {k: len(v) for k, v in d.items()}
        row["ratio_to_" + baseline.replace("-", "_")] = ratio
        rows[path] = row
    return rows


def fmt(x, dec):
    if x is None:
        return "–"
    if dec == 0:
        return f"{x:,.0f}"
    return f"{x:.{dec}f}"


def table(rows, order, baseline, label_base):
    # Only the columns some row of this table has.
    cols = [m for m in METRICS if any(m[0] in rows.get(p, {}) for p in order)] or METRICS
    head = "| path | " + " | ".join(
        f"{lab}{' (' + unit + ')' if unit else ''}" for _, lab, unit, _, _ in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    rkey = "ratio_to_" + baseline.replace("-", "_")
    for p in order:
        row = rows.get(p)
        if row is None:
            continue
        if "skipped" in row:
            lines.append(f"| {LABELS.get(p, p)} | skipped: {row['skipped']} |" + " |" * (len(cols) - 1))
            continue
        cells = []
        for k, _, _, _, dec in cols:
            if k not in row:
                cells.append("–")
                continue
            lo, hi = row["spread"][k]
            r = row.get(rkey, {}).get(k)
            rt = f" **×{r:.2f}**" if r is not None and p != baseline else ""
            cells.append(f"{fmt(row[k], dec)}{rt} <sub>{fmt(lo, dec)}–{fmt(hi, dec)}</sub>")
        lines.append(f"| {LABELS.get(p, p)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Cells: median **×ratio to {label_base}** <sub>min–max</sub>. "
                 "Throughput and conn/s: higher is better; latency and CPU: lower is better.")
    return lines


def targets(rows):
    """The issue's targets, checked against this run."""
    out = []
    g = rows.get("graft-broker")
    h = rows.get("host")
    if not g or not h or "throughput_gbps" not in g:
        return ["- targets not checked: graft-broker or host missing"], {}
    res = {}
    r = g["ratio_to_host"]

    def line(ok, text):
        out.append(f"- {'✅' if ok else '❌'} {text}")

    pr = g.get("paired_ratio_to_host", {})
    # Targets are judged on the median of the per-repetition (paired) ratios when
    # there are any: the ratio of two medians swings with the machine's drift.
    r = {**r, **{k: v["median"] for k, v in pr.items()}}

    def pairs(k):
        p = pr.get(k)
        return (f"; per repetition ×{p['median']:.3f} median, ×{p['min']:.2f}–×{p['max']:.2f}" if p else "")

    tp = r.get("throughput_gbps")
    res["throughput_vs_host"] = {"ratio": tp, "target": 0.97, "met": tp is not None and tp >= 0.97,
                                 "paired": pr.get("throughput_gbps")}
    line(res["throughput_vs_host"]["met"],
         f"graft-broker 1-stream throughput ×{tp:.3f} host (target ≥ 0.97){pairs('throughput_gbps')}")
    tp4 = r.get("throughput4_gbps")
    if tp4 is not None:
        out.append(f"- ℹ️ graft-broker 4-stream throughput ×{tp4:.3f} host (not a target)")
    for other in ("nat", "proxy"):
        o = rows.get(other)
        if o and "throughput_gbps" in o:
            ok = g["throughput_gbps"] > o["throughput_gbps"]
            res[f"throughput_above_{other}"] = {"graft": g["throughput_gbps"], other: o["throughput_gbps"], "met": ok}
            line(ok, f"graft-broker throughput {g['throughput_gbps']:.1f} Gbit/s above {other} "
                     f"{o['throughput_gbps']:.1f} (×{g['throughput_gbps'] / o['throughput_gbps']:.2f})")
    p50 = r.get("rr_p50_us")
    if p50 is not None:
        res["rr_p50_vs_host"] = {"ratio": p50, "target": 1.05, "met": p50 <= 1.05, "paired": pr.get("rr_p50_us")}
        line(p50 <= 1.05, f"graft-broker RR p50 ×{p50:.3f} host (target ≤ 1.05){pairs('rr_p50_us')}")
        b50 = r.get("rr_block_p50_us")
        if b50 is not None:
            out.append(f"- ℹ️ graft-broker RR p50 with blocking reads ×{b50:.3f} host{pairs('rr_block_p50_us')}")
    ci = r.get("conn_per_s")
    if ci is not None:
        res["conn_ingress_vs_host"] = ci
        out.append(f"- ℹ️ connection rate *to* a grafted server (ingress, no broker round trip per connection): ×{ci:.2f} host")
    for peer, d in g.get("paired_ratio_to", {}).items():
        bits = [f"{name} ×{d[k]['median']:.2f} (×{d[k]['min']:.2f}–×{d[k]['max']:.2f})"
                for k, name in (("throughput_gbps", "throughput"), ("rr_p50_us", "RR p50"), ("conn_per_s", "conn/s"))
                if k in d]
        res[f"vs_{peer}"] = d
        out.append(f"- ℹ️ graft-broker over {peer}, paired per repetition (median, min–max): " + ", ".join(bits))
    e = rows.get("graft-egress", {})
    ce_p = e.get("paired_ratio_to_host", {}).get("conn_per_s", {}).get("median")
    ce = ce_p or e.get("ratio_to_host", {}).get("conn_per_s")
    if ce is not None:
        res["conn_egress_vs_host"] = ce
        cu_e = e.get("connect_us")
        cu_h = h.get("connect_us")
        extra = ""
        if cu_e and cu_h:
            d = cu_e - cu_h
            adds = f"adds ~{d:.1f} µs" if d >= 0.5 else "adds nothing measurable"
            extra = (f"; socket() and connect() take {cu_e:.1f} µs grafted vs {cu_h:.1f} µs on the host, "
                     f"so grafting {adds} per connection")
            res["egress_connect_extra_us"] = round(cu_e - cu_h, 1)
        res["conn_egress_target"] = {"ratio": ce, "target": 0.9, "met": ce >= 0.9}
        line(ce >= 0.9, f"connection rate *from* a grafted client (egress; sockets from libgraft's stock): "
                        f"×{ce:.2f} host{', paired median' if ce_p else ''} (target ≥ 0.9){extra}")
    c1 = e.get("paired_ratio_to_host", {}).get("conn_per_s_one_cpu")
    h1 = h.get("conn_per_s_one_cpu")
    if c1 and h1:
        res["conn_egress_one_cpu_vs_host"] = c1
        out.append(f"- ℹ️ the same with the client's threads on the server's CPU (crr1; the host "
                   f"{h1:,.0f}/s there): ×{c1['median']:.2f} host, paired median "
                   f"(×{c1['min']:.2f}–×{c1['max']:.2f})")
    seccomp_targets(rows, line, out, res)
    return out, res


def paired_or_median(row, k):
    """The paired (per-repetition) median ratio to host, else the ratio of medians."""
    p = row.get("paired_ratio_to_host", {}).get(k)
    return (p["median"], p) if p else (row.get("ratio_to_host", {}).get(k), None)


def seccomp_targets(rows, line, out, res):
    """graft run --mode seccomp: throughput >= 0.97x host, RR p50 <= 1.05x; connection rates as ratios."""
    for path, kind in (("graft-seccomp", "ingress"), ("graft-seccomp-egress", "egress")):
        row = rows.get(path)
        if not row or "skipped" in row:
            continue
        name = path.replace("-egress", "")
        tp, tpp = paired_or_median(row, "throughput_gbps")
        if tp is not None:
            res[f"{path}_throughput_vs_host"] = {"ratio": tp, "target": 0.97, "met": tp >= 0.97, "paired": tpp}
            line(tp >= 0.97, f"{name} ({kind}) 1-stream throughput ×{tp:.3f} host (target ≥ 0.97)"
                             f"{', paired median' if tpp else ''}")
        p50, p50p = paired_or_median(row, "rr_p50_us")
        if p50 is not None:
            res[f"{path}_rr_p50_vs_host"] = {"ratio": p50, "target": 1.05, "met": p50 <= 1.05, "paired": p50p}
            line(p50 <= 1.05, f"{name} ({kind}) RR p50 ×{p50:.3f} host (target ≤ 1.05)"
                               f"{', paired median' if p50p else ''}")
        c, cp = paired_or_median(row, "conn_per_s")
        if c is not None:
            res[f"{path}_conn_vs_host"] = c
            why = ("the broker is involved once, at bind" if kind == "ingress" else
                   "every connect() traps to the broker: one round trip each, no stock")
            out.append(f"- ℹ️ {name} ({kind}) connection rate ×{c:.2f} host"
                       f"{', paired median' if cp else ''} ({why})")


def broker_lines(broker, res):
    """The broker on its own (bench/brokerrt): one graft's round trip, and a batch's cost per socket."""
    if not broker or "single_p50_us" not in broker:
        return []
    rt = broker["single_p50_us"]
    res["broker_single_graft_us"] = rt
    res["broker_us_per_batched_socket"] = broker.get("batch_us_per_socket")
    lo, hi = broker["spread"]["single_p50_us"]
    ok = rt <= 15
    floor = ""
    if "floor_round_trip_us" in broker and "single_over_floor" in broker:
        # The same request answered by a minimal C process, interleaved with the broker's.
        fl, ratio = broker["floor_round_trip_us"], broker["single_over_floor"]
        rlo, rhi = broker["spread"]["single_over_floor"]
        res["broker_floor_us"] = fl
        res["broker_over_floor"] = ratio
        floor = (f"; this machine's floor in the same runs (a minimal C responder doing the same work, "
                 f"interleaved, waiting as the broker and libgraft wait) {fl:.1f} µs: the broker ×{ratio:.2f} "
                 f"of it (paired; per repetition {rlo:.2f}–{rhi:.2f})")
        if "floor_block_us" in broker:
            res["broker_floor_blocking_us"] = broker["floor_block_us"]
            floor += f"; the same responder with both sides blocking in poll()/recvmsg(): {broker['floor_block_us']:.1f} µs"
    mean = f", mean {broker['single_mean_us']:.1f} µs" if "single_mean_us" in broker else ""
    return [f"- {'✅' if ok else '❌'} broker round trip for one graft (bench/brokerrt, GRAFT_OP_SOCKET, "
            f"request to descriptor received): p50 {rt:.1f} µs (target ≤ 15; per repetition {lo:.1f}–{hi:.1f}){mean}{floor}; "
            f"a 32-socket batch costs {broker.get('batch_us_per_socket', 0):.1f} µs per socket"] + placement_lines(broker, res)


def placement_lines(broker, res):
    """The round trip by where the scheduler put the broker: on a CPU of its own or on the client's."""
    bits = []
    if "single_p50_apart_us" in broker:
        res["broker_single_graft_apart_us"] = broker["single_p50_apart_us"]
        bits.append(f"on a CPU of its own p50 {broker['single_p50_apart_us']:.1f} µs")
    if "single_p50_together_us" in broker:
        res["broker_single_graft_together_us"] = broker["single_p50_together_us"]
        share = broker.get("together_share")
        of = f" ({share * 100:.0f} % of the requests, median of the repetitions)" if share is not None else ""
        bits.append(f"on the client's CPU p50 {broker['single_p50_together_us']:.1f} µs{of}")
    if not bits:
        return []
    line = "- ℹ️ where the scheduler ran the broker (its CPU read after every run of 16): " + ", ".join(bits)
    if "switch_floor_us" in broker:
        # Two bare processes on one CPU passing a byte there and back: what sharing a CPU costs anyone.
        res["switch_floor_us"] = broker["switch_floor_us"]
        line += (f"; two processes pinned to one CPU take {broker['switch_floor_us']:.1f} µs to pass a byte "
                 f"there and back (two switches between processes), the least a round trip on a shared CPU costs here")
    return [line]


# ---- SVG ------------------------------------------------------------------------

COLORS = {
    "host": "#6b7280", "veth": "#60a5fa", "nat": "#f59e0b", "proxy": "#ef4444",
    "slirp4netns": "#a855f7", "pasta": "#ec4899", "rootlesskit": "#0ea5e9",
    "graft-broker": "#16a34a", "graft-egress": "#86efac",
    "vm-loopback": "#6b7280", "vm-veth": "#60a5fa", "graft-kernel": "#15803d", "graft-kernel-egress": "#86efac",
}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(rows, vmrows, meta):
    panels = [(k, lab, unit, hib, dec) for k, lab, unit, hib, dec in METRICS]
    paths = [p for p in ORDER if p in rows and "skipped" not in rows[p]]
    vpaths = [p for p in VM_ORDER if p in vmrows and "skipped" not in vmrows[p]]
    cols = 3
    pw, bar, gap = 330, 16, 6
    label_w = 150
    ph = 44 + len(paths) * (bar + gap)
    nrows = math.ceil(len(panels) / cols)
    vm_h = (50 + len(vpaths) * (bar + gap)) if vpaths else 0
    W = cols * pw + 20
    H = 52 + nrows * (ph + 20) + vm_h + 10
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="10" y="22" font-size="15" font-weight="bold">graft benchmark — {esc(meta.get("date", ""))}</text>',
         f'<text x="10" y="40" fill="#555">{esc(meta.get("machine", ""))}; median of {meta.get("reps")} runs, '
         f'whiskers min–max; ×ratio to host</text>']

    def panel(x0, y0, title, plist, data, key, hib, dec, base, unit):
        o.append(f'<text x="{x0 + 4}" y="{y0 + 14}" font-weight="bold">{esc(title)}'
                 f'{esc(" (" + unit + ")") if unit else ""}'
                 f'<tspan fill="#777" font-weight="normal">{" · higher is better" if hib else " · lower is better"}</tspan></text>')
        vals = [data[p] for p in plist if key in data[p]]
        if not vals:
            return
        # Scale to the whiskers, but not beyond 3x the largest median: one
        # 15 ms outlier must not squash every other bar (clipped whiskers end
        # in an arrow).
        vmax = max(max(d["spread"][key][1], d[key]) for d in vals) or 1
        vmax = min(vmax, 3 * max(d[key] for d in vals)) or 1
        bw = pw - label_w - 70
        y = y0 + 26
        bval = data.get(base, {}).get(key)
        for p in plist:
            d = data[p]
            if key not in d:
                y += bar + gap
                continue
            w = bw * d[key] / vmax
            lo, hi = (bw * min(v, vmax) / vmax for v in d["spread"][key])
            clipped = d["spread"][key][1] > vmax
            o.append(f'<text x="{x0 + label_w - 4}" y="{y + bar - 4}" text-anchor="end">{esc(LABELS.get(p, p))}</text>')
            o.append(f'<rect x="{x0 + label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{COLORS.get(p, "#999")}"/>')
            yc = y + bar / 2
            o.append(f'<line x1="{x0 + label_w + lo:.1f}" x2="{x0 + label_w + hi:.1f}" y1="{yc}" y2="{yc}" stroke="black"/>')
            for xx in (lo, hi):
                o.append(f'<line x1="{x0 + label_w + xx:.1f}" x2="{x0 + label_w + xx:.1f}" y1="{yc - 4}" y2="{yc + 4}" stroke="black"/>')
            if clipped:
                xe = x0 + label_w + hi
                o.append(f'<path d="M{xe - 5:.1f},{yc - 4} L{xe + 1:.1f},{yc} L{xe - 5:.1f},{yc + 4}" fill="none" stroke="black"/>')
            ratio = f" ×{d[key] / bval:.2f}" if bval and p != base else ""
            o.append(f'<text x="{x0 + label_w + max(w, hi) + 4:.1f}" y="{y + bar - 4}">{fmt(d[key], dec)}{ratio}</text>')
            y += bar + gap

    for i, (k, lab, unit, hib, dec) in enumerate(panels):
        x0 = 10 + (i % cols) * pw
        y0 = 52 + (i // cols) * (ph + 20)
        titles = {"throughput_gbps": "Throughput, 1 stream", "throughput4_gbps": "Throughput, 4 streams",
                  "rr_p50_us": "Request/response p50", "rr_p99_us": "Request/response p99",
                  "conn_per_s": "Connections per second", "cpu_s_per_gb": "CPU time per GB",
                  "rr_block_p50_us": "Request/response p50, blocking",
                  "cpu_us_per_conn": "CPU time per connection"}
        panel(x0, y0, titles[k], paths, rows, k, hib, dec, "host", unit)
    if vpaths:
        y0 = 52 + nrows * (ph + 20)
        o.append(f'<text x="10" y="{y0 + 14}" font-size="13" font-weight="bold">graft-kernel: inside the VM of '
                 f'scripts/vm-test (QEMU TCG) — compare only with the VM\'s own loopback</text>')
        for i, k in enumerate(["throughput_gbps", "rr_p50_us", "conn_per_s"]):
            m = next(mm for mm in METRICS if mm[0] == k)
            panel(10 + i * pw, y0 + 20, m[1], vpaths, vmrows, k, m[3], m[4], "vm-loopback", m[2])
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta = json.load(open(os.path.join(raw, "meta.json")))
    hrecs = parse_host(raw)
    vals = values(hrecs)
    rows = {}
    for _, base, paths in [("", "host", ORDER)] + GROUPS:
        sub = {p: vals[p] for p in paths if p in vals}
        rows.update(summarise(sub, base))
        for path, d in paired([r for r in hrecs if r["path"] in paths], base).items():
            rows[path]["paired_ratio_to_" + base.replace("-", "_")] = {
                k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3)}
                for k, v in d.items()}
    broker = summarise({"broker": vals["broker"]}, "broker").get("broker") if "broker" in vals else None
    for peer in PEERS:
        d = paired(hrecs, peer).get("graft-broker")
        if d and peer in rows:
            rows["graft-broker"].setdefault("paired_ratio_to", {})[peer] = {
                k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3)}
                for k, v in d.items()}
    for p, reason in meta.get("skipped", {}).items():
        rows.setdefault(p, {})["skipped"] = reason

    vmrecs = []
    vmpath = os.path.join(raw, "vm.jsonl")
    if os.path.exists(vmpath):
        for line in open(vmpath, errors="replace"):
            try:
                vmrecs.append(json.loads(line))
            except ValueError:
                pass
    vmrows = summarise(values(vmrecs), "vm-loopback") if vmrecs else {}
    for r in vmrecs:
        if r.get("skipped"):
            vmrows.setdefault(r["path"], {})["skipped"] = r["skipped"]
    if meta.get("vm_skipped"):
        vmrows = {"graft-kernel": {"skipped": meta["vm_skipped"]}}
    elif "graft-kernel" not in vmrows or not any(k for k in vmrows["graft-kernel"] if k.endswith(("gbps", "_us", "_s"))):
        vmrows.setdefault("graft-kernel", {}).setdefault("skipped", "no AF_GRAFT results came back from the VM")

    tlines, tres = targets(rows)
    tlines += broker_lines(broker, tres)

    doc = dict(meta)
    doc["paths"] = {p: rows[p] for p in ORDER + [p for g in GROUPS for p in g[2]] if p in rows}
    if broker:
        doc["broker"] = broker
    gk = dict(vmrows.get("graft-kernel", {}))
    gk["baseline"] = "vm-loopback (inside the QEMU TCG VM; ratios are against it, absolute numbers are not comparable)"
    doc["paths"]["graft-kernel"] = gk
    doc["vm"] = {p: vmrows[p] for p in VM_ORDER if p in vmrows and p != "graft-kernel"}
    doc["targets"] = tres
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")

    md = [f"### Benchmark, {meta['date']}", "",
          f"Machine: {meta['machine']}. {meta['reps']} interleaved repetitions per path "
          f"(iperf3 {meta['durations']['tp1']} s 1-stream, {meta['durations']['tp4']} s 4-stream; "
          f"bench/rr 64-byte request/response {meta['durations']['rr']} s; "
          f"short connections with {meta['crr_threads']} threads {meta['durations']['crr']} s; "
          f"UDP iperf3 {meta['durations'].get('utp', '-')} s, bench/rr -u {meta['durations'].get('urr', '-')} s); "
          f"NAT by {meta.get('nat_tool') or 'none'}; "
          f"rootlesskit port driver {meta.get('rootlesskit_port_driver') or 'none'}; whole run {meta['seconds']} s. "
          f"Produced by `scripts/bench`; see docs/bench.md.", ""]
    if meta.get("quick"):
        md += ["**--quick run: 2 short repetitions, indicative only; the targets are judged on a full run.**", ""]
    md += table(rows, ORDER, "host", "host")
    for title, base, paths in GROUPS:
        if any(p in rows for p in paths):
            md += ["", f"{title}:", ""] + table(rows, paths, base, LABELS.get(base, base))
    md += ["", "Targets:", ""] + tlines
    md += ["", "graft-kernel, inside the VM of `scripts/vm-test` (QEMU TCG, no KVM: absolute numbers are "
           "far below the host's; only the ratios to the VM's own loopback mean anything):", ""]
    if "skipped" in vmrows.get("graft-kernel", {}) and len(vmrows) == 1:
        md.append(f"- graft-kernel skipped: {vmrows['graft-kernel']['skipped']}")
    else:
        md += table(vmrows, VM_ORDER, "vm-loopback", "VM loopback")
    skipped = {p: r["skipped"] for p, r in rows.items() if "skipped" in r}
    if skipped:
        md += [""] + [f"- {p} skipped: {why}" for p, why in skipped.items()]
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "latest.svg"), "w") as f:
        f.write(svg(rows, {p: r for p, r in vmrows.items() if "skipped" not in r}, meta))


if __name__ == "__main__":
    main()
