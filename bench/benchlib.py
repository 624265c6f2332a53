# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers shared by the benchmarks in bench/ (imported, not run).

- finding the build, building the busybox template, running a private ctd on a temporary
  socket with its own --cgroup-parent (PrivateCtd);
- the raw HTTP/1.1 API over the Unix socket (api_call, UnixHTTPConnection);
- cgroup and mount cleanup of a bench's own leftovers (hierarchies, kill_and_rmdir,
  unmount_under), signal handling that turns SIGINT/SIGTERM/SIGHUP into SystemExit;
- statistics (median, percentiles) and the machine header of every report.
"""

import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
CG_ROOT = "/sys/fs/cgroup"
EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def log(msg):
	print(f"# {msg}", file=sys.stderr, flush=True)


def die(prog, msg):
	print(f"{prog}: error: {msg}", file=sys.stderr)
	sys.exit(1)


def exit_on_signals():
	"""SIGINT/SIGTERM/SIGHUP raise SystemExit, so that finally: blocks clean up."""
	def on_signal(signum, frame):
		raise SystemExit(128 + signum)
	for s in EXIT_SIGNALS:
		signal.signal(s, on_signal)


def ignore_signals():
	"""While cleaning up: a second ^C must not leave debris."""
	for s in EXIT_SIGNALS:
		signal.signal(s, signal.SIG_IGN)


def build_dir():
	return os.environ.get("CT_BUILD_DIR") or os.path.join(os.getcwd(), "build")


def report_path(name, arg):
	"""Where the Markdown report goes: arg, or bench/report/NAME-DATE.md; None for '-'."""
	if arg == "-":
		return None
	return arg or os.path.join(
		HERE, "report", f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.md")


def write_report(path, text):
	if not path:
		return
	os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
	with open(path, "w") as f:
		f.write(text)
	log(f"written to {path}")


# ---- cgroups and mounts ----

def hierarchies():
	"""Every mounted cgroup hierarchy (v1 controllers, named ones, the v2 unified one)."""
	hs = []
	try:
		for e in sorted(os.listdir(CG_ROOT)):
			p = os.path.join(CG_ROOT, e)
			if os.path.isdir(p) and not os.path.islink(p) and \
			   os.path.exists(os.path.join(p, "cgroup.procs")):
				hs.append(p)
	except OSError:
		pass
	if os.path.exists(os.path.join(CG_ROOT, "cgroup.procs")):
		hs.append(CG_ROOT)
	return hs


def kill_and_rmdir(d):
	"""Kills whatever is left in cgroup d and below, and removes the groups."""
	for root, subdirs, _ in os.walk(d, topdown=False):
		for _ in range(50):
			try:
				with open(os.path.join(root, "cgroup.procs")) as f:
					pids = [int(x) for x in f.read().split()]
			except OSError:
				pids = []
			for p in pids:
				try:
					os.kill(p, signal.SIGKILL)
				except ProcessLookupError:
					pass
			try:
				os.rmdir(root)
				break
			except FileNotFoundError:
				break
			except OSError:
				time.sleep(0.02)


def remove_cgroup_dirs(names):
	"""Removes <hierarchy>/<name> for each name in every hierarchy (our own parents only)."""
	for h in hierarchies():
		for n in names:
			d = os.path.join(h, n)
			if os.path.isdir(d):
				kill_and_rmdir(d)


def unmount_under(top):
	with open("/proc/self/mountinfo") as f:
		mps = [l.split()[4] for l in f]
	for mp in sorted((m for m in mps if m == top or m.startswith(top + "/")),
			 key=len, reverse=True):
		subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


# ---- the API over the Unix socket ----

class UnixHTTPConnection(http.client.HTTPConnection):
	"""http.client over AF_UNIX: keep-alive requests to ctd."""

	def __init__(self, path, timeout=60):
		super().__init__("ct", timeout=timeout)
		self.unix_path = path

	def connect(self):
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
		s.settimeout(self.timeout)
		s.connect(self.unix_path)
		self.sock = s

	def call(self, method, path, body=None):
		"""One request; returns (status, decoded JSON or None)."""
		data = json.dumps(body).encode() if body is not None else None
		hdr = {"Content-Type": "application/json"} if data is not None else {}
		self.request(method, path, body=data, headers=hdr)
		r = self.getresponse()
		raw = r.read()
		try:
			j = json.loads(raw) if raw else None
		except ValueError:
			j = None
		return r.status, j


def api_call(sock_path, method, path, body=None):
	"""One HTTP/1.1 request on a fresh connection; returns (status, body bytes)."""
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
	try:
		s.connect(sock_path)
		data = json.dumps(body).encode() if body is not None else b""
		req = (f"{method} {path} HTTP/1.1\r\nHost: ct\r\nConnection: close\r\n"
		       f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
		s.sendall(req.encode() + data)
		buf = b""
		while True:
			chunk = s.recv(65536)
			if not chunk:
				break
			buf += chunk
		head, _, rest = buf.partition(b"\r\n\r\n")
		status = int(head.split(b" ", 2)[1])
		return status, rest
	finally:
		s.close()


class PrivateCtd:
	"""A ctd of our own: temporary socket and state dir, --cgroup-parent TAG, the busybox
	template built and imported. stop() destroys every container in its state dir, then
	SIGTERMs ctd (by its PID) and removes its cgroup parent TAG in every hierarchy."""

	def __init__(self, prog, tmp, tag):
		self.prog = prog
		self.tmp = tmp
		self.tag = tag
		self.proc = None
		self.log_file = None
		bdir = build_dir()
		self.ctd_bin = os.path.join(bdir, "ctd", "ctd")
		self.ctctl_bin = os.path.join(bdir, "ctctl", "ctctl")
		for b in (self.ctd_bin, self.ctctl_bin):
			if not os.access(b, os.X_OK):
				die(prog, f"{b} not found: build first (meson setup build && ninja -C "
				    "build) or set CT_BUILD_DIR")
		self.sock = os.path.join(tmp, "ctd.sock")
		self.state = os.path.join(tmp, "state")
		self.archives = os.path.join(tmp, "archives")
		self.archive = os.path.join(self.archives, "busybox.tar.gz")

	def ctctl(self, *a):
		return [self.ctctl_bin, "--socket", self.sock, *a]

	@property
	def pid(self):
		return self.proc.pid if self.proc else None

	def build_template(self):
		os.makedirs(self.archives, exist_ok=True)
		if not os.path.exists(self.archive):
			log("building the busybox template")
			subprocess.run([os.path.join(SRC, "templates", "busybox", "build"),
					self.archive], check=True, stdout=subprocess.DEVNULL,
				       stderr=subprocess.DEVNULL)
		return self.archive

	def start(self, log_level="warn"):
		self.build_template()
		log("starting ctd")
		# The benchmarks measure ctd, not its per-client rate limit (rate_limit = 0: off).
		conf = os.path.join(self.tmp, "ctd.conf")
		with open(conf, "w") as f:
			f.write("rate_limit = 0\n")
		cmd = [self.ctd_bin, "--config", conf, "--socket", self.sock, "--state-dir", self.state,
		       "--template-path", self.archives, "--foreground", "--log-level", log_level,
		       "--cgroup-parent", self.tag]
		self.log_file = open(os.path.join(self.tmp, "ctd.log"), "w")
		self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file,
					     stderr=self.log_file)
		for _ in range(100):
			if self.proc.poll() is not None:
				break
			if os.path.exists(self.sock):
				try:
					if api_call(self.sock, "GET", "/v1/info")[0] == 200:
						break
				except OSError:
					pass
			time.sleep(0.1)
		else:
			die(self.prog, "ctd did not start")
		if self.proc.poll() is not None:
			die(self.prog, "ctd exited at start: " +
			    open(os.path.join(self.tmp, "ctd.log")).read())
		st, body = api_call(self.sock, "POST", "/v1/templates",
				    {"name": "busybox", "archive": self.archive})
		if st != 201:
			die(self.prog, f"template import: {st} {body!r}")
		self.template_dir = os.path.join(self.state, "templates", "busybox")

	def container_names(self):
		st, body = api_call(self.sock, "GET", "/v1/containers")
		if st != 200:
			return []
		return [c["name"] for c in json.loads(body).get("containers", [])]

	def destroy_all(self):
		for n in self.container_names():
			try:
				api_call(self.sock, "DELETE", f"/v1/containers/{n}?force=1")
			except OSError:
				pass

	def stop(self):
		"""Never raises: every step that can be done is done."""
		if self.proc and self.proc.poll() is None:
			try:
				self.destroy_all()
			except Exception as e:  # noqa: BLE001
				print(f"{self.prog}: cleanup: {e}", file=sys.stderr)
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(timeout=10)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
		if self.log_file:
			self.log_file.close()
			self.log_file = None
		try:
			remove_cgroup_dirs([self.tag])
		except Exception as e:  # noqa: BLE001
			print(f"{self.prog}: cleanup: {e}", file=sys.stderr)


# ---- /proc ----

def proc_status_kb(pid, key):
	"""A kB field of /proc/PID/status (VmRSS, VmHWM, ...); None if gone."""
	try:
		with open(f"/proc/{pid}/status") as f:
			for l in f:
				if l.startswith(key + ":"):
					return int(l.split()[1])
	except OSError:
		pass
	return None


def proc_pss_kb(pid):
	try:
		with open(f"/proc/{pid}/smaps_rollup") as f:
			for l in f:
				if l.startswith("Pss:"):
					return int(l.split()[1])
	except OSError:
		pass
	return None


def proc_cpu_seconds(pid):
	"""utime + stime of PID in seconds."""
	with open(f"/proc/{pid}/stat") as f:
		s = f.read()
	fields = s[s.rindex(")") + 2:].split()
	return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_fd_count(pid):
	try:
		return len(os.listdir(f"/proc/{pid}/fd"))
	except OSError:
		return None


def all_processes():
	"""{pid: (ppid, comm)} of every process on the host."""
	out = {}
	for e in os.listdir("/proc"):
		if not e.isdigit():
			continue
		try:
			with open(f"/proc/{e}/stat") as f:
				s = f.read()
		except OSError:
			continue
		comm = s[s.index("(") + 1:s.rindex(")")]
		ppid = int(s[s.rindex(")") + 2:].split()[1])
		out[int(e)] = (ppid, comm)
	return out


def meminfo_kb():
	with open("/proc/meminfo") as f:
		return {l.split(":")[0]: int(l.split()[1]) for l in f}


# ---- statistics and output ----

def percentile(sorted_xs, p):
	"""Nearest-rank percentile of an already sorted list (p in 0..100)."""
	if not sorted_xs:
		return float("nan")
	k = max(0, min(len(sorted_xs) - 1, int(round(p / 100 * len(sorted_xs) + 0.5)) - 1))
	return sorted_xs[k]


def stats(xs_ns):
	"""median, p10, p90 in ms of a list of ns."""
	ms = sorted(x / 1e6 for x in xs_ns)
	if len(ms) == 1:
		return ms[0], ms[0], ms[0]
	q = statistics.quantiles(ms, n=10, method="inclusive")
	return statistics.median(ms), q[0], q[-1]


def fmt(xs):
	if not xs:
		return "n/a"
	m, lo, hi = stats(xs)
	return f"{m:7.2f} ({lo:6.2f}–{hi:6.2f})"


def ratio(a, b):
	if not a or not b:
		return "n/a"
	return f"{stats(a)[0] / stats(b)[0]:.2f}"


def loadavg():
	return open("/proc/loadavg").read().split(" ", 3)[:3]


def _out(cmd):
	try:
		r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
		return (r.stdout or r.stderr).strip()
	except Exception as e:  # noqa: BLE001
		return f"({e})"


def machine_header(ctd_bin, sock, peers=()):
	"""Header lines: date, machine, ctd (and its features, asked over the API at sock),
	each peer's version (peers: [(name, argv)]), python, load average."""
	with open("/proc/self/mountinfo") as f:
		mi = f.read()
	v2 = " - cgroup2 " in mi
	v1 = " - cgroup " in mi
	mode = "hybrid (v1 controllers + v2 unified)" if v1 and v2 else \
		"v2 (unified)" if v2 else "v1 (legacy)" if v1 else "none"
	try:
		cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
			   if l.startswith("model name"))
	except StopIteration:
		cpu = "?"
	mem = meminfo_kb().get("MemTotal", 0) / 1048576
	try:
		st, body = api_call(sock, "GET", "/v1/info")
		info = json.loads(body)
		feats = ", ".join(k for k, v in sorted(info.get("features", {}).items()) if v)
		ctcg = info.get("cgroup", "?")
	except Exception:  # noqa: BLE001
		feats, ctcg = "?", "?"
	h = [
		f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
		f"machine: {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB, kernel "
		f"{os.uname().release}, cgroups {mode}",
		f"ctd: {_out([ctd_bin, '--version'])} (cgroup {ctcg}; features: {feats})",
	]
	for name, argv in peers:
		h.append(f"{name}: {(_out(argv).splitlines() or ['?'])[0]}")
	h.append(f"python: {sys.version.split()[0]}")
	h.append(f"load average at start: {loadavg()} "
		 "(other work on the host skews every row; compare the ratios)")
	return h
