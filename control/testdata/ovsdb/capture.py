#!/usr/bin/env python3
"""Capture real ovsdb-server (Open vSwitch 3.1) conversations as golden test data.

Usage: python3 capture.py [OUTDIR]      (default: the directory of this script)

Starts private ovsdb-servers (a standalone and a clustered database, both created from
/usr/share/openvswitch/vswitch.ovsschema) in a temporary directory, talks JSON-RPC to them over
their unix sockets with a tiny client written here, drives changes with the real
`ovs-vsctl --no-wait`, and writes one JSON file per scenario:

    {"description": "...", "transcript": [{"client": "A", "send": MSG} | {"client": "A", "recv": MSG}
                                          | {"note": "..."}]}

`send` is what the client wrote, `recv` what the server sent, in the order they happened on
each connection. UUIDs and transaction ids change from run to run; the tests only rely on the
shapes and on the relations inside one file. Needs Debian's openvswitch-switch (ovsdb-server,
ovsdb-tool, ovs-vsctl). Nothing here touches a system OVS: every path is in the temp dir.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
ZERO = "00000000-0000-0000-0000-000000000000"

# The columns rvsd monitors (a representative subset: sets, maps, references, optional ints).
MONITOR = {
    "Open_vSwitch": ["bridges", "cur_cfg", "next_cfg", "external_ids", "other_config"],
    "Bridge": ["name", "ports", "datapath_type", "fail_mode", "external_ids", "other_config"],
    "Port": ["name", "interfaces", "tag", "trunks", "vlan_mode", "external_ids"],
    "Interface": ["name", "type", "options", "ofport", "ofport_request", "mtu_request",
                  "external_ids", "status", "error"],
}


class Server:
    """One ovsdb-server in its own directory."""

    def __init__(self, root, name, clustered=False):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "conf.db")
        self.sock = os.path.join(self.dir, "db.sock")
        self.pidfile = os.path.join(self.dir, "ovsdb-server.pid")
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir, OVS_DBDIR=self.dir)
        if clustered:
            port = free_port()
            run(["ovsdb-tool", "create-cluster", self.db, SCHEMA, f"tcp:127.0.0.1:{port}"],
                self.env)
        else:
            run(["ovsdb-tool", "create", self.db, SCHEMA], self.env)
        self.start()
        if clustered:
            # A one-server cluster elects itself; wait until writes go through.
            deadline = time.time() + 10
            while True:
                r = subprocess.run(self.vsctl_cmd(["--timeout=2", "init"]), env=self.env,
                                   capture_output=True)
                if r.returncode == 0:
                    break
                if time.time() > deadline:
                    raise RuntimeError("cluster did not come up: " + r.stderr.decode())
                time.sleep(0.2)
        else:
            self.vsctl(["init"])

    def start(self, extra=()):
        run(["ovsdb-server", self.db, f"--remote=punix:{self.sock}", *extra,
             f"--pidfile={self.pidfile}", "--detach",
             f"--log-file={os.path.join(self.dir, 'ovsdb-server.log')}"], self.env)

    def stop(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)
            os.kill(pid, 9)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass

    def vsctl_cmd(self, args):
        return ["ovs-vsctl", f"--db=unix:{self.sock}", "--no-wait", *args]

    def vsctl(self, args):
        run(self.vsctl_cmd(args), self.env)


def run(cmd, env):
    r = subprocess.run(cmd, env=env, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {r.stderr.decode()}")
    return r.stdout.decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Transcript:
    def __init__(self, description):
        self.description = description
        self.items = []

    def note(self, text):
        self.items.append({"note": text})

    def save(self, outdir, name):
        path = os.path.join(outdir, name)
        with open(path, "w") as f:
            json.dump({"description": self.description, "transcript": self.items}, f, indent=1)
            f.write("\n")
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


class Client:
    """A JSON-RPC 1.0 client over a stream socket that logs every message into a transcript."""

    def __init__(self, address, transcript, name="A"):
        if isinstance(address, tuple):
            self.sock = socket.create_connection(address)
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(address)
        self.t = transcript
        self.name = name
        self.buf = ""
        self.dec = json.JSONDecoder()
        self.next_id = 0

    def send(self, msg):
        self.t.items.append({"client": self.name, "send": msg})
        self.sock.sendall(json.dumps(msg).encode())

    def request(self, method, params):
        self.next_id += 1
        self.send({"method": method, "params": params, "id": self.next_id})
        return self.next_id

    def recv(self, timeout=5.0):
        """The next message, or None after `timeout` seconds of silence."""
        end = time.time() + timeout
        while True:
            text = self.buf.lstrip()
            if text:
                try:
                    msg, used = self.dec.raw_decode(text)
                    self.buf = text[used:]
                    self.t.items.append({"client": self.name, "recv": msg})
                    return msg
                except ValueError:
                    pass
            left = end - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                return None
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data.decode()

    def call(self, method, params):
        """Send a request; return its reply (notifications that come first are logged too)."""
        rid = self.request(method, params)
        while True:
            msg = self.recv()
            if msg is None:
                raise RuntimeError(f"no reply to {method}")
            if msg.get("id") == rid and "method" not in msg:
                return msg

    def drain(self, quiet=0.5):
        """Log whatever the server sends until it has been quiet for `quiet` seconds."""
        got = []
        while True:
            msg = self.recv(quiet)
            if msg is None:
                return got
            got.append(msg)

    def close(self):
        self.sock.close()


def monitor_requests(cond):
    """Monitor requests for MONITOR: a list per table for the monitor_cond* methods (no
    "where": every row), a bare object for RFC 7047's monitor."""
    return {table: [{"columns": cols}] if cond else {"columns": cols}
            for table, cols in MONITOR.items()}


def vsctl_changes(server, t, client, bridge="br0"):
    """The change sequence every monitor capture sees, one ovs-vsctl call per step."""
    steps = [
        ["add-br", bridge],
        ["add-port", bridge, "p1", "--", "set", "interface", "p1", "ofport_request=7"],
        ["set", "port", "p1", "tag=10", "trunks=[20,30]"],
        ["set", "interface", "p1", "options:key=4660", "external_ids:a=b"],
        ["set", "port", "p1", "trunks=[30,40]"],
        ["remove", "interface", "p1", "external_ids", "a"],
        ["set", "interface", "p1", "options:key=5"],
        ["del-port", bridge, "p1"],
    ]
    for step in steps:
        t.note("ovs-vsctl --no-wait " + " ".join(step))
        server.vsctl(step)
        client.drain()


def capture_schema(server, outdir):
    t = Transcript("get_schema for Open_vSwitch and for a database that does not exist "
                   "(standalone ovsdb-server 3.1, vswitch schema)")
    c = Client(server.sock, t)
    c.call("list_dbs", [])
    c.call("get_schema", ["Open_vSwitch"])
    c.call("get_schema", ["No_Such_Db"])
    c.close()
    t.save(outdir, "get_schema.json")


def capture_echo(server, outdir):
    t = Transcript("echo both ways: the client's echo and its reply, and the inactivity probe "
                   "ovsdb-server sends on a TCP connection idle for 5 s (answered by the client)")
    c = Client(server.sock, t)
    c.call("echo", ["hello", 1])
    c.close()
    port = free_port()
    server.stop()
    server.start([f"--remote=ptcp:{port}:127.0.0.1"])
    time.sleep(0.3)
    c = Client(("127.0.0.1", port), t, "tcp")
    c.call("list_dbs", [])
    t.note("idle; the server probes")
    msg = c.recv(12)
    if msg is None or msg.get("method") != "echo":
        raise RuntimeError(f"expected an echo probe, got {msg}")
    c.send({"id": msg["id"], "result": msg["params"], "error": None})
    c.drain(1)
    c.close()
    server.stop()
    server.start()
    t.save(outdir, "echo.json")


def capture_lock(server, outdir):
    t = Transcript("locks with two clients: lock granted, lock waiting, 'locked' notification "
                   "after unlock, 'steal' and the 'stolen' notification, a transaction asserting a "
                   "lock the client does not own ('not owner')")
    a = Client(server.sock, t, "A")
    b = Client(server.sock, t, "B")
    a.call("lock", ["ovs_vswitchd"])
    b.call("lock", ["ovs_vswitchd"])
    t.note("A unlocks: B is notified")
    a.call("unlock", ["ovs_vswitchd"])
    b.drain()
    t.note("A locks again (waits), then steals")
    a.call("lock", ["ovs_vswitchd"])
    a.call("unlock", ["ovs_vswitchd"])
    a.call("steal", ["ovs_vswitchd"])
    b.drain()
    t.note("B no longer owns the lock: a transaction asserting it fails")
    b.call("transact", ["Open_vSwitch", {"op": "assert", "lock": "ovs_vswitchd"},
                        {"op": "comment", "comment": "rvs test"}])
    t.note("A owns it: the same transaction succeeds")
    a.call("transact", ["Open_vSwitch", {"op": "assert", "lock": "ovs_vswitchd"},
                        {"op": "comment", "comment": "rvs test"}])
    a.close()
    b.drain()
    b.close()
    t.save(outdir, "lock.json")


def capture_monitor(server, outdir, method, name, bridge):
    t = Transcript(f"{method} on Open_vSwitch/Bridge/Port/Interface (standalone database), then "
                   "the notifications while ovs-vsctl --no-wait changes the database")
    c = Client(server.sock, t)
    cond = method != "monitor"
    params = ["Open_vSwitch", ["rvs", method], monitor_requests(cond)]
    if method == "monitor_cond_since":
        params.append(ZERO)
    c.call(method, params)
    vsctl_changes(server, t, c, bridge)
    c.close()
    t.save(outdir, name)


def capture_transact(server, outdir):
    t = Transcript("transact: insert with named-uuid references, update, mutate, wait, comment, "
                   "select; errors: constraint violation, referential integrity, a wait that "
                   "times out, an unknown column, and an unknown method reply")
    c = Client(server.sock, t)
    ovs = c.call("transact", ["Open_vSwitch", {"op": "select", "table": "Open_vSwitch",
                                               "where": [], "columns": ["_uuid", "bridges"]}])
    root = ovs["result"][0]["rows"][0]["_uuid"]
    c.call("transact", ["Open_vSwitch",
                        {"op": "insert", "table": "Interface", "row": {"name": "t1", "type": "",
                         "options": ["map", [["key", "1"]]]}, "uuid-name": "iface"},
                        {"op": "insert", "table": "Port", "row": {"name": "t1", "interfaces":
                         ["named-uuid", "iface"]}, "uuid-name": "port"},
                        {"op": "insert", "table": "Bridge", "row": {"name": "brt", "ports":
                         ["set", [["named-uuid", "port"]]]}, "uuid-name": "br"},
                        {"op": "mutate", "table": "Open_vSwitch", "where":
                         [["_uuid", "==", root]], "mutations":
                         [["bridges", "insert", ["set", [["named-uuid", "br"]]]],
                          ["next_cfg", "+=", 1]]},
                        {"op": "comment", "comment": "rvs: add brt"}])
    c.call("transact", ["Open_vSwitch",
                        {"op": "update", "table": "Interface", "where": [["name", "==", "t1"]],
                         "row": {"ofport": 3, "status": ["map", [["driver_name", "rvs"]]]}},
                        {"op": "mutate", "table": "Interface", "where": [["name", "==", "t1"]],
                         "mutations": [["external_ids", "insert", ["map", [["k", "v"]]]]]},
                        {"op": "wait", "table": "Interface", "where": [["name", "==", "t1"]],
                         "columns": ["ofport"], "until": "==", "rows": [{"ofport": 3}],
                         "timeout": 0},
                        {"op": "select", "table": "Interface", "where": [["name", "==", "t1"]],
                         "columns": ["name", "ofport", "status", "external_ids", "options"]}])
    t.note("constraint violation: ofport_request must be in 1..65279")
    c.call("transact", ["Open_vSwitch",
                        {"op": "update", "table": "Interface", "where": [["name", "==", "t1"]],
                         "row": {"ofport_request": 0}}])
    t.note("referential integrity: a port pointing at a row that does not exist")
    c.call("transact", ["Open_vSwitch",
                        {"op": "insert", "table": "Port", "row": {"name": "bad", "interfaces":
                         ["uuid", "11111111-2222-3333-4444-555555555555"]}}])
    t.note("a wait that is not satisfied, with timeout 0")
    c.call("transact", ["Open_vSwitch",
                        {"op": "wait", "table": "Interface", "where": [["name", "==", "t1"]],
                         "columns": ["ofport"], "until": "==", "rows": [{"ofport": 4}],
                         "timeout": 0}])
    t.note("an unknown column")
    c.call("transact", ["Open_vSwitch",
                        {"op": "update", "table": "Interface", "where": [], "row": {"nope": 1}}])
    t.note("a method this server does not know: the reply an older server gives to "
           "monitor_cond_since or monitor_cond")
    c.call("monitor_cond_since_v9", ["Open_vSwitch", None, {}, ZERO])
    c.close()
    t.save(outdir, "transact.json")


def capture_resync(outdir, root):
    t = Transcript("monitor_cond_since on a clustered database (the only kind that keeps "
                   "transaction ids; a standalone one always answers found=false with the zero "
                   "id, see monitor_cond_since.json): initial state, update3 notifications, a disconnect, changes "
                   "while away, then a reconnect from the last-txn-id (found=true, only the missed "
                   "changes) and one from an unknown id (found=false, everything)")
    server = Server(root, "cluster", clustered=True)
    try:
        # ovsdb-server drops history once it holds more atoms than the database itself: a
        # bridge with a big unmonitored Interface:statistics map keeps the small changes below
        # in the history.
        pad = " ".join(f"statistics:pad{i}={i}" for i in range(300)).split()
        server.vsctl(["add-br", "pad", "--", "set", "interface", "pad", *pad])
        c = Client(server.sock, t, "first")
        reply = c.call("monitor_cond_since",
                       ["Open_vSwitch", ["rvs", "since"], monitor_requests(True), ZERO])
        last = reply["result"][1]
        for step in (["add-br", "br0"], ["add-port", "br0", "p1"]):
            t.note("ovs-vsctl --no-wait " + " ".join(step))
            server.vsctl(step)
            for msg in c.drain():
                if msg.get("method") == "update3":
                    last = msg["params"][1]
        c.close()
        t.note("disconnected; changes happen meanwhile")
        for step in (["set", "port", "p1", "tag=5"], ["add-port", "br0", "p2"],
                     ["del-port", "br0", "p1"]):
            t.note("ovs-vsctl --no-wait " + " ".join(step))
            server.vsctl(step)
        c = Client(server.sock, t, "second")
        c.call("monitor_cond_since",
               ["Open_vSwitch", ["rvs", "since"], monitor_requests(True), last])
        t.note("a change after the resync")
        server.vsctl(["set", "interface", "p2", "ofport_request=9"])
        c.drain()
        c.close()
        c = Client(server.sock, t, "third")
        c.call("monitor_cond_since",
               ["Open_vSwitch", ["rvs", "since"], monitor_requests(True),
                "12345678-1234-1234-1234-123456789abc"])
        c.close()
    finally:
        server.stop()
    t.save(outdir, "resync.json")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    root = tempfile.mkdtemp(prefix="rvs-ovsdb-capture-")
    server = None
    try:
        server = Server(root, "standalone")
        capture_schema(server, outdir)
        capture_lock(server, outdir)
        capture_monitor(server, outdir, "monitor_cond_since", "monitor_cond_since.json", "br1")
        capture_monitor(server, outdir, "monitor_cond", "monitor_cond.json", "br2")
        capture_monitor(server, outdir, "monitor", "monitor.json", "br3")
        capture_transact(server, outdir)
        capture_echo(server, outdir)
        capture_resync(outdir, root)
    finally:
        if server:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
