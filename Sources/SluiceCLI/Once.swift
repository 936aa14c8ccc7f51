import ArgumentParser
import ConnectorKit
import Connectors
import Foundation
import Logging
import PipelineLoader
import SluiceRuntime

struct Once: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "once", abstract: "Run one pipeline once: load what is new, then exit.")

    @Argument(help: "The pipeline's name (its file name without .toml, or [pipeline] name).")
    var name: String

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: RunOptions

    @Flag(name: .customLong("no-progress"), help: "No progress line, even on a terminal.")
    var noProgress = false

    @Option(name: .customLong("attempts"), help: "Attempts when a server is unreachable or drops the connection (backoff 1 s, 2 s, 4 s … 30 s).")
    var attempts = 8

    func run() async throws {
        let (pipelines, jobs, errors, dir) = loadPipelines(config)
        if let job = jobs.first(where: { $0.name == name }) {
            try await runJobOnce(job, pipelines: pipelines)
            return
        }
        // A multi-host pipeline by its own name: every host, at the same time.
        let chosen = pipelines.filter { $0.name == name || $0.group == name }
        guard !chosen.isEmpty else {
            for e in errors { printError("error: \(e)") }
            let valid = Set(pipelines.map { $0.group ?? $0.name }).sorted() + jobs.map(\.name)
            printError("error: no valid pipeline or job named '\(name)' in \(dir)" + (valid.isEmpty ? "" : " (valid: \(valid.joined(separator: ", ")))"))
            throw ExitCode(1)
        }
        let logger = options.makeLogger()
        if chosen.count == 1 {
            SMBIsolation.serveOneShareInProcess()
            if try await runOnce(chosen[0], logger: logger, progressAllowed: true) == false { throw ExitCode(1) }
            return
        }
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for definition in chosen { group.addTask { try await runOnce(definition, logger: logger, progressAllowed: false) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        if results.contains(false) { throw ExitCode(1) }
    }

    /// Runs one pipeline (or one host of a multi-host one) and prints its summary; false when it
    /// failed.
    func runOnce(_ definition: PipelineDefinition, logger: Logger, progressAllowed: Bool) async throws -> Bool {
        let name = definition.name
        let stateDir = options.resolvedStateDirectory
        var logger = logger
        if let host = definition.host { logger[metadataKey: "host"] = "\(host)" }
        let pipeline = try definition.build(stateDirectory: stateDir, logger: logger)
        let context = RunContext(pipeline: name, logger: logger)
        let cluster = try ClusterServices(settings: try config.loadSettings(), settingsFile: config.resolvedSettingsFile, stateDirectory: stateDir, logger: logger)
        let engine = PipelineEngine(pipeline: pipeline, checkpointStore: try cluster.checkpointStores.store(for: definition),
                                    deadLetterKey: cluster.checkpointStores.deadLetterKey)
        let started = Date()
        // With daemons sharing the pipeline files, a manual run is claimed like theirs.
        var lease: (any RunLease)?
        if let coordinator = cluster.coordinator {
            switch try await coordinator.claim(name) {
            case .granted(let l): lease = l
            case .heldElsewhere(let holder):
                printError("error: \(name) is running on \(holder ?? "another daemon") now; try again when that run ends")
                return false
            }
        }
        let progress = progressAllowed && !noProgress && isatty(2) == 1 ? ProgressLine(stats: context.stats, started: started) : nil
        progress?.start()
        var failure: (any Error)?
        do { try await engine.runRetrying(context: context, attempts: max(1, attempts)) } catch { failure = error }
        await pipeline.source.shutdown()
        await lease?.end(succeededRunStarted: failure == nil ? started : nil)
        progress?.stop()
        let c = context.stats.counts
        let seconds = Date().timeIntervalSince(started)
        var summary = "\(name): \(c.recordsWritten) records written, \(c.deadLetters) dead letters, \(c.filesOpened) files read (\(ProgressLine.bytes(c.bytesRead))) in \(String(format: "%.2f", seconds)) s"
        if c.deadLetters > 0 { summary += "\n  dead letters: \(pipeline.deadLetterPath)" }
        if c.filesWithPendingBytes > 0 { summary += "\n  \(c.filesWithPendingBytes) file(s) end with an incomplete record (\(c.pendingBytes) bytes) that waits for its line end" }
        if c.retries > 0 { summary += "\n  \(c.retries) retr\(c.retries == 1 ? "y" : "ies") after a lost connection" }
        if c.replays > 0 { summary += "\n  \(c.replays) replay\(c.replays == 1 ? "" : "s") from the last commit (the sink asked to read again: to find records the target refused, or to make partitions on one COPY stream)" }
        if c.recordsRolledBack > 0 || c.deadLettersRolledBack > 0 {
            summary += "\n  \(c.recordsRolledBack) records and \(c.deadLettersRolledBack) dead letters sent in failed attempts were rolled back (not committed; "
                + (failure == nil ? "loaded again by a retry)" : "the next run loads them)")
        }
        if let u = c.uncertainCommit {
            summary += "\n  the last commit (\(u.records) records) was cut off: whether it landed is known on the next run, which resumes from what the target holds"
        }
        if c.filesRestarted > 0 { summary += "\n  \(c.filesRestarted) file(s) were rotated, truncated or replaced and read from the start" }
        print(summary)
        for e in c.errors { printError("error: \(e)") }
        if let failure {
            printError("error: \(name): \(failure)")
            return false
        }
        return c.fileErrors == 0
    }
}

extension Once {
    func runJobOnce(_ job: JobDefinition, pipelines: [PipelineDefinition]) async throws {
        let report = try await JobRunner.run(job, pipelines: pipelines, stateDirectory: options.resolvedStateDirectory, logger: options.makeLogger())
        if report.lines.isEmpty { print("\(name): \(report.nothingToDo ?? "nothing to do")") }
        for line in report.lines { print(line) }
        if report.failed { throw ExitCode(1) }
    }
}

/// A one-line progress display on standard error, redrawn twice a second.
final class ProgressLine: Sendable {
    let stats: RunStats
    let started: Date
    private let task = LockedTask()

    init(stats: RunStats, started: Date) {
        self.stats = stats
        self.started = started
    }

    func start() {
        task.set(Task { [stats, started] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                let c = stats.counts
                let secs = max(0.001, Date().timeIntervalSince(started))
                let line = "\r\u{1B}[K\(c.recordsSent) records sent, \(c.recordsWritten) committed, \(c.deadLetters) dead letters, \(ProgressLine.bytes(c.bytesRead)) read, \(Int(Double(c.recordsSent) / secs)) records/s"
                FileHandle.standardError.write(Data(line.utf8))
            }
        })
    }

    func stop() {
        task.cancel()
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func bytes(_ n: Int64) -> String {
        let d = Double(n)
        if d >= Double(1 << 30) { return String(format: "%.2f GiB", d / Double(1 << 30)) }
        if d >= Double(1 << 20) { return String(format: "%.1f MiB", d / Double(1 << 20)) }
        if d >= Double(1 << 10) { return String(format: "%.1f KiB", d / Double(1 << 10)) }
        return "\(n) B"
    }
}

final class LockedTask: Sendable {
    private let task = Locked<Task<Void, Never>?>(nil)
    func set(_ t: Task<Void, Never>) { task.withLock { $0 = t } }
    func cancel() { task.withLock { $0?.cancel() } }
}
