#!/usr/bin/env python3
"""The http benchmark group: uco-httpd's /hello against nginx, h2o, Go
net/http and aiohttp, side by side in one run.

    http_bench.py --build BUILD [--quick] [--duration S]

Each server runs alone, pinned to CPU 0 (one worker, one thread, one
GOMAXPROCS, one core of uco); the load runs pinned to CPU 1:
  - wrk at 64 and 512 connections, and at 64 connections with 16
    pipelined requests each (benchmarks/peers/http_pipeline.lua, as
    TechEmpower's plaintext test);
  - for uco, the same three loads from uco-http-load, beside wrk's, to
    show the load generator is not what limits;
  - server memory per idle keep-alive connection at 10,000 and 19,000
    connections for uco and nginx (benchmarks/http_idle_mem.py).
Server CPU per request is the server's utime+stime over the run (from
/proc/PID/stat) divided by the requests wrk counted.

Prints, per server and load:
    RESULT group=http name=hello_c64 impl=<impl> value=<req/s> unit=req/s
    RESULT group=http name=hello_c64_cpu impl=<impl> value=<us> unit=us/req
(and _c512, _c64_p16), and "note: ..." for each peer it had to skip.  The
machine is shared: every figure is what this one run saw, with the load
average printed beside it.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SERVER_CPU = "0"
LOAD_CPU = "1"


def note(msg):
    print("note: " + msg, flush=True)


def result(name, impl, value, unit):
    print("RESULT group=http name=%s impl=%s value=%.4g unit=%s"
          % (name, impl, value, unit), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, limit=20.0):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)  # polling a server's start-up, not a race
    return False


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def rlimit_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    def __init__(self, impl, argv, port, env=None, worker_child=False):
        self.impl = impl
        self.port = port
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + argv, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=rlimit_nofile)
        self.ok = wait_port(port, self.proc)
        self.pid = self.proc.pid
        if self.ok and worker_child:
            kids = children(self.proc.pid)
            self.pid = kids[0] if kids else self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_wrk(port, conns, duration, depth=0):
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c%d" % conns,
            "-d%ds" % duration]
    if depth:
        argv += ["-s", os.path.join(HERE, "peers", "http_pipeline.lua")]
    argv.append("http://127.0.0.1:%d/hello" % port)
    if depth:
        argv += ["--", str(depth)]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m or not rps:
        return None
    if bad:
        note("wrk saw %s non-2xx responses" % bad.group(1))
    return int(m.group(1)), float(rps.group(1))


def run_load(build, port, conns, duration, depth):
    exe = os.path.join(build, "tools", "uco-http-load")
    if not os.path.exists(exe):
        return None
    argv = ["taskset", "-c", LOAD_CPU, exe, "--connections", str(conns),
            "--duration", str(duration), "--pipeline", str(max(depth, 1)),
            "http://127.0.0.1:%d/hello" % port]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    n = re.search(r"^requests: (\d+)", out, re.M)
    rps = re.search(r"^requests/s: ([\d.]+)", out, re.M)
    if not n or not rps:
        return None
    return int(n.group(1)), float(rps.group(1))


LOADS = [("hello_c64", 64, 0), ("hello_c512", 512, 0),
         ("hello_c64_p16", 64, 16)]


def measure(srv, duration, build, with_load):
    # Warm-up, then each load.
    run_wrk(srv.port, 64, 1)
    for name, conns, depth in LOADS:
        t0 = cpu_ticks(srv.pid)
        r = run_wrk(srv.port, conns, duration, depth)
        t1 = cpu_ticks(srv.pid)
        if not r:
            note("%s: wrk failed at %s" % (srv.impl, name))
            continue
        n, rps = r
        hz = os.sysconf("SC_CLK_TCK")
        result(name, srv.impl, rps, "req/s")
        result(name + "_cpu", srv.impl, (t1 - t0) * 1e6 / hz / n, "us/req")
        if with_load:
            r = run_load(build, srv.port, conns, duration, depth)
            if r:
                result(name, "uco-http-load", r[1], "req/s")
            else:
                note("uco-http-load did not run at %s" % name)


def idle_mem(srv, counts):
    for n in counts:
        procs = (n + 8999) // 9000
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "http_idle_mem.py"),
             "--pid", str(srv.pid), "--port", str(srv.port),
             "--connections", str(n), "--procs", str(procs),
             "--impl", srv.impl],
            capture_output=True, text=True, preexec_fn=rlimit_nofile)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)


def nginx_conf(tmp, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
master_process on;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    server {
        listen 127.0.0.1:%(p)d;
        location /hello { default_type text/plain; return 200 "Hello, World!"; }
    }
}
""" % {"t": tmp, "p": port})
    return conf


def h2o_conf(tmp, port):
    www = os.path.join(tmp, "www")
    os.makedirs(www, mode=0o755, exist_ok=True)
    with open(os.path.join(www, "hello.txt"), "w") as f:
        f.write("Hello, World!")
    os.chmod(os.path.join(www, "hello.txt"), 0o644)
    conf = os.path.join(tmp, "h2o.conf")
    with open(conf, "w") as f:
        f.write("""listen:
  host: 127.0.0.1
  port: %d
num-threads: 1
max-connections: 20000
hosts:
  default:
    paths:
      /hello:
        file.file: %s/hello.txt
""" % (port, www))
    return conf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--duration", type=int, default=0)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    duration = a.duration or (3 if a.quick else 10)
    if not shutil.which("wrk"):
        note("wrk not found (Debian: wrk): http benchmark skipped")
        return 0
    print("# load average before: %s" % open("/proc/loadavg").read().strip(),
          flush=True)
    tmp = tempfile.mkdtemp(prefix="uco-http-bench-")
    # h2o started as root serves as "nobody": it must be able to read.
    os.chmod(tmp, 0o755)
    # Each server is (impl, argv(port), env, its worker is a child); the
    # port is picked as it starts (the idle-memory runs use up ephemeral
    # ports).
    servers = []
    servers.append(("uco", lambda p: [os.path.join(build, "tools",
                                                   "uco-httpd"),
                                      "--host", "127.0.0.1", "--port", str(p),
                                      "--cores", "1", "--root", tmp],
                    None, False))
    if shutil.which("nginx"):
        servers.append(("nginx", lambda p: ["nginx", "-c",
                                            nginx_conf(tmp, p), "-p", tmp],
                        None, True))
    else:
        note("nginx not found (Debian: nginx-light): peer skipped")
    if shutil.which("h2o"):
        servers.append(("h2o", lambda p: ["h2o", "-c", h2o_conf(tmp, p)],
                        None, False))
    else:
        note("h2o not found (Debian: h2o): peer skipped")
    gobin = os.path.join(build, "benchmarks", "peers-go", "http_go")
    if shutil.which("go"):
        env = dict(os.environ, GO111MODULE="on", GOFLAGS="", GOPROXY="off",
                   GOTOOLCHAIN="local",
                   GOCACHE=os.path.join(build, "go-cache"),
                   GOPATH=os.path.join(build, "go-path"))
        r = subprocess.run(["go", "build", "-o", gobin, "."],
                           cwd=os.path.join(HERE, "peers", "http_go"),
                           env=env)
        if r.returncode == 0:
            servers.append(("go", lambda p: [gobin, str(p)],
                            dict(os.environ, GOMAXPROCS="1"), False))
        else:
            note("the Go http peer did not build: skipped")
    else:
        note("go not found (Debian: golang-go): Go peer skipped")
    py = "/usr/bin/python3"
    if subprocess.run([py, "-c", "import aiohttp"],
                      capture_output=True).returncode == 0:
        servers.append(("aiohttp", lambda p: [py, os.path.join(
            HERE, "peers", "http_aiohttp.py"), str(p)], None, False))
    else:
        note("aiohttp not importable (Debian: python3-aiohttp): peer skipped")

    def start(impl, argv, env, worker):
        for _ in range(3):
            port = free_port()
            srv = Server(impl, argv(port), port, env, worker)
            if srv.ok:
                return srv
            err = srv.proc.stderr.read().decode(errors="replace")
            srv.stop()
        note("%s did not start: %s" % (impl, err.strip()[:200]))
        return None

    for impl, argv, env, worker in servers:
        if a.only and impl not in a.only.split(","):
            continue
        srv = start(impl, argv, env, worker)
        if not srv:
            continue
        try:
            measure(srv, duration, build, impl == "uco")
        finally:
            srv.stop()
        if impl not in ("uco", "nginx"):
            continue
        # A fresh server for each count: what the last one kept is not
        # counted against the next.
        for n in [10000] if a.quick else [10000, 19000]:
            srv = start(impl, argv, env, worker)
            if srv:
                try:
                    idle_mem(srv, [n])
                finally:
                    srv.stop()
    print("# load average after: %s" % open("/proc/loadavg").read().strip(),
          flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
