import Foundation

/// A child process's wall time, peak RSS and exit status, measured with wait4 (Foundation's
/// `Process` reaps the child itself and so cannot report its own rusage).
struct ChildRun {
    var seconds: Double
    /// User + system CPU time of the child.
    var cpuSeconds: Double
    var peakRSSMiB: Double
    var status: Int32
    var stderr: String
}

func spawnMeasured(_ path: String, _ args: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> ChildRun {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let errPath = NSTemporaryDirectory() + "sluice-bench-stderr-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + args).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let started = Date()
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let seconds = Date().timeIntervalSince(started)
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return ChildRun(seconds: seconds, cpuSeconds: cpu, peakRSSMiB: Double(usage.ru_maxrss) / 1024, status: exit, stderr: err)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// `[pipeline]`, `[source]` and `[[transform]]`s reading the simulator CSV `file` and casting its
/// six columns: the part of every benchmark pipeline before its `[sink]`.
func simulatorPipeline(name: String, file: String) -> String {
    filesSourceTOML(name: name, file: file) + """
    [[transform]]
    type = "csv"
    [[transform]]
    type = "schema"
    [transform.columns]
    timestamp = { type = "timestamp", nullable = false }
    machine = "string"
    temperature = "float64"
    pressure = "decimal(8,2)"
    status = "string"
    count = "int64"

    """
}

/// A pipeline's `[pipeline]` table and a `files` source reading `file` once it is written.
func filesSourceTOML(name: String, file: String) -> String {
    """
    [pipeline]
    name = "\(name)"
    [source]
    type = "files"
    path = "\((file as NSString).deletingLastPathComponent)"
    glob = "\((file as NSString).lastPathComponent)"
    settle = "0s"

    """
}

/// The python3 of scripts/py-env.sh (made when missing) or `SLUICE_BENCH_PYTHON`, checked to
/// import `modules`: the reference tools are always measured, never skipped.
func benchPython(importing modules: String) throws -> String {
    var python = ProcessInfo.processInfo.environment["SLUICE_BENCH_PYTHON"] ?? FileManager.default.currentDirectoryPath + "/.build/pyenv/bin/python3"
    if (try? spawnMeasured(python, ["-c", "import \(modules)"]).status) != 0 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["scripts/py-env.sh"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        python = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").last.map(String.init) ?? python
        p.waitUntilExit()
    }
    guard (try? spawnMeasured(python, ["-c", "import \(modules)"]).status) == 0 else {
        throw BenchError("\(python) cannot import \(modules): run scripts/py-env.sh")
    }
    return python
}

/// SQL that deletes the checkpoints of the pipelines `condition` picks, also on a server where no
/// run has made the checkpoint table yet (a fresh one).
func forgetCheckpointsSQL(where condition: String) -> String {
    "DO $$ BEGIN IF to_regclass('public.sluice_checkpoints') IS NOT NULL THEN DELETE FROM public.sluice_checkpoints WHERE \(condition); END IF; END $$"
}
