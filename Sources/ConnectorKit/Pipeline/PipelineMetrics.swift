import CoreMetrics

/// The cumulative counters of one pipeline, through swift-metrics (the executable chooses the
/// backend; without one they cost nothing). Every change to a run's `RunStats` adds to them, so
/// they count where the work happens: bytes read, records decoded, committed, rolled back, dead
/// letters, commits, retries, replays, files opened and restarted. Labels follow Prometheus conventions;
/// the pipeline is the `pipeline` dimension.
public struct PipelineMetrics: Sendable {
    let bytesRead: Counter
    let recordsDecoded: Counter
    let recordsWritten: Counter
    let recordsRolledBack: Counter
    let deadLetters: Counter
    let commits: Counter
    let retries: Counter
    let replays: Counter
    let filesOpened: Counter
    let filesRestarted: Counter
    let fileErrors: Counter

    /// `host`: one host of a multi-host pipeline, a `host` dimension of its own.
    public init(pipeline: String, host: String? = nil, factory: any MetricsFactory = MetricsSystem.factory) {
        let d = [("pipeline", pipeline)] + (host.map { [("host", $0)] } ?? [])
        func counter(_ label: String) -> Counter { Counter(label: label, dimensions: d, factory: factory) }
        bytesRead = counter("sluice_bytes_read_total")
        recordsDecoded = counter("sluice_records_read_total")
        recordsWritten = counter("sluice_records_written_total")
        recordsRolledBack = counter("sluice_records_rolled_back_total")
        deadLetters = counter("sluice_dead_letters_total")
        commits = counter("sluice_commits_total")
        retries = counter("sluice_retries_total")
        replays = counter("sluice_replays_total")
        filesOpened = counter("sluice_files_opened_total")
        filesRestarted = counter("sluice_files_restarted_total")
        fileErrors = counter("sluice_file_errors_total")
    }

    /// Adds what grew between two snapshots of a run's counts (counts only grow; committed
    /// records are counted when their commit is known to have landed).
    func add(from a: RunStats.Counts, to b: RunStats.Counts) {
        func grow<T: BinaryInteger>(_ counter: Counter, _ x: T, _ y: T) { if y > x { counter.increment(by: Int64(y - x)) } }
        grow(bytesRead, a.bytesRead, b.bytesRead)
        grow(recordsDecoded, a.recordsDecoded, b.recordsDecoded)
        grow(recordsWritten, a.recordsWritten, b.recordsWritten)
        grow(recordsRolledBack, a.recordsRolledBack, b.recordsRolledBack)
        grow(deadLetters, a.deadLetters, b.deadLetters)
        grow(commits, a.commits, b.commits)
        grow(retries, a.retries, b.retries)
        grow(replays, a.replays, b.replays)
        grow(filesOpened, a.filesOpened, b.filesOpened)
        grow(filesRestarted, a.filesRestarted, b.filesRestarted)
        grow(fileErrors, a.fileErrors, b.fileErrors)
    }
}
