# SPDX-License-Identifier: LGPL-2.1-or-later
"""What bench/net-throughput and bench/isolation-cost share (imported, not run): they drive
libct directly through bench/ctbench.c, not through ctd.

- building the tools into the bench's temporary directory: ctbench (linked with the build's
  libct.so, public API only) and tcpbw (static, so that it runs in a busybox root);
- the busybox root (templates/busybox/build, unpacked) that every container's overlay uses as
  its read-only lower layer, with tcpbw copied into /bin;
- a network namespace of the bench's own (`ip netns add ctbench-PID`): the "host" side of
  every measurement; its bridge, veths and routes go when it is deleted;
- running ctbench and collecting its lines; cleanup on every exit path.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
import benchlib as bl  # noqa: E402

SRC = bl.SRC
HERE = bl.HERE


class Native:
	"""A temporary directory, the tools, the busybox lower, optionally a netns; stop() removes
	all of it (and the cgroup parent TAG in every hierarchy) and never raises."""

	def __init__(self, prog):
		self.prog = prog
		self.tag = f"ctbench-{os.getpid()}"
		self.tmp = None
		self.netns = None
		self.proc = None
		self.bdir = bl.build_dir()
		self.libdir = os.path.join(self.bdir, "libct")
		if os.geteuid() != 0:
			bl.die(prog, "needs root")
		if not os.path.exists(os.path.join(self.libdir, "libct.so")):
			bl.die(prog, f"{self.libdir}/libct.so not found: build first (meson setup build "
			       "&& ninja -C build) or set CT_BUILD_DIR")
		for tool in ("cc", "tar"):
			if not shutil.which(tool):
				bl.die(prog, f"{tool} not found")

	def setup(self):
		self.tmp = tempfile.mkdtemp(prefix="ct-bench-", dir="/tmp")
		self.dirs = os.path.join(self.tmp, "containers")
		os.makedirs(self.dirs)
		bl.log("building ctbench and tcpbw")
		self.ctbench = os.path.join(self.tmp, "ctbench")
		self.tcpbw = os.path.join(self.tmp, "tcpbw")
		warn = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
		subprocess.run(["cc", "-O2", *warn, "-static", "-o", self.tcpbw,
				os.path.join(HERE, "tcpbw.c")], check=True)
		subprocess.run(["cc", "-O2", *warn, "-Wno-format-truncation",
				"-I", os.path.join(SRC, "libct"), "-o", self.ctbench,
				os.path.join(HERE, "ctbench.c"), "-L", self.libdir, "-lct",
				"-Wl,-rpath," + self.libdir], check=True)
		bl.log("building the busybox root")
		archive = os.path.join(self.tmp, "busybox.tar")
		subprocess.run([os.path.join(SRC, "templates", "busybox", "build"), archive],
			       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		self.lower = os.path.join(self.tmp, "lower")
		os.makedirs(self.lower)
		subprocess.run(["tar", "-xf", archive, "-C", self.lower], check=True)
		shutil.copy(self.tcpbw, os.path.join(self.lower, "bin", "tcpbw"))
		os.unlink(archive)

	def features(self):
		r = subprocess.run([self.ctbench, "features"], capture_output=True, text=True,
				   check=True)
		version, feats = "?", []
		for l in r.stdout.splitlines():
			w = l.split()
			if w[0] == "version":
				version = w[1]
			elif w[0] == "feature" and w[2] == "1":
				feats.append(w[1])
		return version, feats

	def make_netns(self):
		"""The bench's own netns: lo up, and 10.79.0.1/32 on lo as the host's own address
		(what the routed containers reach; the host's uplink address on a real host)."""
		name = self.tag
		subprocess.run(["ip", "netns", "add", name], check=True)
		self.netns = name
		subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
		subprocess.run(["ip", "-n", name, "addr", "add", "10.79.0.1/32", "dev", "lo"],
			       check=True)
		return name

	def in_netns(self, argv):
		"""argv run in our netns. nsenter, not `ip netns exec`: the latter also remounts
		/sys in a new mount namespace, which hides /sys/fs/cgroup from libct."""
		return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

	def run(self, argv, on_line):
		"""Runs argv (ctbench ...), calls on_line for each stdout line; stderr passes.
		Raises on a non-zero exit."""
		self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
					     text=True)
		for line in self.proc.stdout:
			on_line(line.rstrip("\n"))
		rc = self.proc.wait()
		self.proc = None
		if rc != 0:
			raise RuntimeError(f"{' '.join(argv[:3])}...: exit {rc}")

	def stop(self):
		bl.ignore_signals()

		def step(f, *a):
			try:
				f(*a)
			except Exception as e:  # noqa: BLE001
				print(f"{self.prog}: cleanup: {e}", file=sys.stderr)

		if self.proc and self.proc.poll() is None:
			# ctbench stops its containers on SIGTERM.
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(timeout=20)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
		step(bl.remove_cgroup_dirs, [self.tag])
		if self.netns:
			step(subprocess.run, ["ip", "netns", "del", self.netns])
		if self.tmp:
			step(bl.unmount_under, self.tmp)
			shutil.rmtree(self.tmp, ignore_errors=True)

	def header(self, peers=()):
		"""benchlib's machine header with libct's version and features instead of ctd's."""
		h = bl.machine_header(os.path.join(self.bdir, "ctd", "ctd"), "/nonexistent", peers)
		version, feats = self.features()
		return [f"libct: {version} ({self.libdir}/libct.so; features: {', '.join(feats)})"
			if l.startswith("ctd:") else l for l in h]
