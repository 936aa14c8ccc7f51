import ConnectorKit
import Foundation
import MachineSimulator
import Testing
import TestSupport

/// Runs the built `sluice` binary, as a user would.
enum Sluice {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["SLUICE_BIN"], !b.isEmpty { return b }
        return "\(root)/.build/debug/sluice"
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func start(_ args: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        // Daemons started by tests run side by side: each listens on a free port (the address is
        // in <state>/.daemon/http-address) unless the test names one.
        p.arguments = args.first == "run" && !args.contains("--listen") ? args + ["--listen", "127.0.0.1:0"] : args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = ProcessLaunch.pipe(), err = ProcessLaunch.pipe()
        p.standardOutput = out
        p.standardError = err
        try ProcessLaunch.run(p)
        return (p, out, err)
    }

    @discardableResult
    static func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        let (p, out, err) = try start(args, environment: environment)
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        return Result(status: p.waitForEnd(), stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Reads a child's output in the background (so a full pipe never blocks it).
    final class Collected: @unchecked Sendable {
        // @unchecked: each Data is written once by its reader thread before `group` is left,
        // and read only after `group.wait()`.
        var out = Data(), err = Data()
        let group = DispatchGroup()
    }

    static func collect(_ out: Pipe, _ err: Pipe) -> Collected {
        let c = Collected()
        c.group.enter()
        c.group.enter()
        Thread.detachNewThread { c.out = out.fileHandleForReading.readDataToEndOfFile(); c.group.leave() }
        Thread.detachNewThread { c.err = err.fileHandleForReading.readDataToEndOfFile(); c.group.leave() }
        return c
    }

    /// Waits for the child (SIGKILL after `timeLimit` seconds, recorded as an issue) and its output.
    static func finish(_ p: Process, _ c: Collected, timeLimit: Double) -> Result {
        let deadline = Date().addingTimeInterval(timeLimit)
        while p.isAlive && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        var late: String?
        if p.isAlive {
            late = "\(p.arguments ?? []) did not finish within \(Int(timeLimit)) s (process state \(p.procState)); killed"
            kill(p.processIdentifier, SIGKILL)
        }
        let status = p.waitForEnd()
        c.group.wait()
        let result = Result(status: status, stdout: String(decoding: c.out, as: UTF8.self), stderr: String(decoding: c.err, as: UTF8.self))
        if let late { Issue.record("\(late); its standard error ended with:\n\(result.stderr.suffix(3000))") }
        return result
    }

    /// `[source]` and `[[transform]]`s reading the simulator's Linux CSV under `dir/in`, cast to
    /// its six columns: what the crash and PostgreSQL tests load.
    static func simulatorInput(_ dir: String, requiredTimestamp: Bool) -> String {
        """
        [source]
        type = "files"
        path = "\(dir)/in"
        glob = "**/*.csv"
        settle = "0s"
        [[transform]]
        type = "csv"
        [[transform]]
        type = "schema"
        [transform.columns]
        timestamp = \(requiredTimestamp ? "{ type = \"timestamp\", nullable = false }" : "\"timestamp\"")
        machine = "string"
        temperature = "float64"
        pressure = "decimal(8,2)"
        status = "string"
        count = "int64"
        """
    }

    static func tempDir(_ name: String) throws -> String {
        let d = NSTemporaryDirectory() + "sluice-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return TestCleanup.removeAtExit(d)
    }

    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func lines(_ path: String) -> [Substring] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: d, as: UTF8.self).split(separator: "\n")
    }

    /// SIGKILLs `args` at random points until `count` kills have landed during one load: start,
    /// wait a random delay, kill if still running; each restart resumes from the last commit. A run
    /// that finishes first means the delays are too long for this machine: `reset` starts the load
    /// over and the delays halve. Bounded by `timeLimit` seconds; returns the kills that landed.
    static func killRepeatedly(_ args: [String], count: Int, maxDelay: Double, timeLimit: Double, reset: () throws -> Void) throws -> Int {
        let deadline = Date().addingTimeInterval(timeLimit)
        var window = maxDelay
        var kills = 0
        while kills < count && Date() < deadline {
            try reset()
            kills = 0
            var finished = false
            while !finished && Date() < deadline {
                let (p, out, err) = try start(args)
                // A non-empty range whatever the window has shrunk to.
                Thread.sleep(forTimeInterval: Double.random(in: (window / 10)...window))
                if p.isAlive {
                    kill(p.processIdentifier, SIGKILL)
                    kills += 1
                } else {
                    finished = true
                }
                p.waitForEnd()
                _ = out.fileHandleForReading.readDataToEndOfFile()
                let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                if finished { #expect(p.endedStatus == 0, "\(e)") }
                if kills >= count { break }
            }
            window /= 2
        }
        #expect(Date() < deadline, "the kill test ran out of its \(Int(timeLimit)) s with \(kills) of \(count) kills")
        return kills
    }
}

/// DuckDB (from scripts/py-env.sh's virtualenv) as an independent reader of what Sluice wrote.
enum DuckDB {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let python = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"] ?? root + "/.build/pyenv/bin/python3"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: python) }

    struct Failure: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// The first row of `sql`'s result, values joined by `|`.
    static func query(_ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import sys, duckdb; print('|'.join(str(v) for v in duckdb.sql(sys.argv[1]).fetchall()[0]))", sql]
        let out = ProcessLaunch.pipe(), err = ProcessLaunch.pipe()
        p.standardOutput = out
        p.standardError = err
        try ProcessLaunch.run(p)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = p.waitForEnd()
        guard status == 0 else { throw Failure(message: "duckdb: \(errors.suffix(800))") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
