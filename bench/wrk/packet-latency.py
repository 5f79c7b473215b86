#!/usr/bin/env python3
"""Per-request latency of HTTP/1.1 keep-alive traffic, measured from a packet capture.

The server's side of the socket, independent of any load generator: for each request on each connection, from the
first data segment the client sent to the last data segment the server sent before the client's next request. Kernel
timestamps, so what the client does after a response arrived (waking up, parsing, recording) is not counted.

Also prints what wrk 4 would report for the same latencies: at the end of a run wrk "corrects" its histogram for
coordinated omission (stats_correct with interval = runtime / (requests / connections)): every latency of k intervals
adds k-1 synthetic samples of smaller latencies. In a closed loop at few connections the interval is tiny (150 us at
one connection and 6,500 req/s), so each rare slow request adds many samples and moves wrk's p99.

Capture with
  tcpdump -i lo -w run.pcap -s 128 --time-stamp-precision=nano 'tcp port 4433'
then: packet-latency.py run.pcap 4433
"""
import struct
import sys

LINK_HEADER = {1: 14, 113: 16, 276: 20, 0: 4}


def segments(path, port):
    """(time s, to_server, connection) of every TCP segment with data, in capture order."""
    with open(path, "rb") as f:
        header = f.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            sys.exit(f"{path}: not a little-endian pcap file (write it with tcpdump -w)")
        scale = 1e9 if magic == 0xA1B23C4D else 1e6
        link = struct.unpack("<I", header[20:24])[0]
        if link not in LINK_HEADER:
            sys.exit(f"{path}: link type {link} not understood")
        while record := f.read(16):
            seconds, fraction, included, _ = struct.unpack("<IIII", record)
            ip = f.read(included)[LINK_HEADER[link]:]
            if not ip or ip[0] >> 4 != 4:
                continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:]
            source, destination = struct.unpack(">HH", tcp[:4])
            if total - ihl - (tcp[12] >> 4) * 4 <= 0:
                continue
            to_server = destination == port
            yield seconds + fraction / scale, to_server, source if to_server else destination


def latencies(path, port):
    pending = {}  # connection -> [request start, last response segment]
    result = []
    first = last = None
    for time, to_server, connection in segments(path, port):
        first = time if first is None else first
        last = time
        state = pending.get(connection)
        if to_server:
            if state is None or state[1] is not None:  # a new request (not the rest of one)
                if state is not None:
                    result.append(state[1] - state[0])
                pending[connection] = [time, None]
        elif state is not None:
            state[1] = time
    result += [s[1] - s[0] for s in pending.values() if s[1] is not None]
    return result, (last - first) if first is not None else 0, len(pending)


def percentile(histogram, p):
    total = sum(histogram.values())
    running = 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= p * total:
            return value
    return 0


def wrk_corrected(histogram, interval):
    corrected = dict(histogram)
    for value, count in histogram.items():
        if value < 2 * interval:
            continue
        m = value - interval
        while m > interval:
            corrected[m] = corrected.get(m, 0) + count
            m -= interval
    return corrected


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    values, runtime, connections = latencies(sys.argv[1], int(sys.argv[2]))
    if not values:
        sys.exit("no requests found")
    histogram = {}
    for v in values:
        us = int(round(v * 1e6))
        histogram[us] = histogram.get(us, 0) + 1
    interval = int(runtime * 1e6 / (len(values) / connections))
    print(f"{len(values)} requests on {connections} connection(s) in {runtime:.1f} s ({len(values) / runtime:,.0f} req/s)")
    for name, h in (("packet level", histogram), (f"as wrk would print it (interval {interval} us)", wrk_corrected(histogram, interval))):
        figures = " ".join(f"p{p:g}={percentile(h, p / 100) / 1000:.3f}" for p in (50, 90, 99, 99.9))
        print(f"{name}: {figures} max={max(h) / 1000:.3f} ms ({sum(h.values())} samples)")


if __name__ == "__main__":
    main()
