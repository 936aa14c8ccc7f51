import ConnectorKit
import CoreMetrics
import Foundation
import Logging
import PipelineLoader

/// Runs pipelines and jobs on their schedules, one loop each.
///
/// - A work never runs twice at once; at most `maxConcurrentRuns` run together across the daemon.
/// - A failing run is retried with backoff and jitter (`BackoffPolicy`, up to the work's
///   `retryMaxDelay`) and never delays the others; after `degradedAfter` failures in a row the
///   work is `degraded`. Refused credentials wait at least five minutes (no lock-out storm).
/// - `after`: a work runs after each round of successful runs of all its upstream works.
/// - A cron work that missed a firing while the daemon was down runs once at start (the last
///   start of every work is kept in the state folder), never once per missed firing.
/// - `apply` adds, replaces and removes works while the others keep running.
/// - With a `RunCoordinator` (daemons on several machines sharing the pipeline files), each run
///   is claimed first: a work another daemon is running waits for its next attempt (a cron work
///   retries every 30 s until its firing has been served by someone), and a firing another daemon
///   already served is not run again.
public actor Scheduler {
    public nonisolated let status: StatusRegistry
    private let logger: Logger
    private let limiter: ConcurrencyLimiter
    private let degradedAfter: Int
    private let lastStarts: LastStartStore?
    private let executor: (any TaskExecutor)?
    /// Where to alert for works without an `on_failure` of their own (`[daemon.on_failure]`).
    private let defaultAlerts: AlertSettings?
    private let coordinator: (any RunCoordinator)?
    private let elsewhereRecheck: Double

    private struct Entry {
        var work: any ScheduledWork
        var fingerprint: String
        var stop: StopToken
        var wakeup: Wakeup
        var task: Task<Void, Never>
        /// Upstream works that succeeded since this one last ran.
        var upstreamDone: Set<String> = []
    }
    private var entries: [String: Entry] = [:]

    /// - Parameter executor: where the loops run (default: the global pool); tests give them a
    ///   thread of their own so that other suites blocking the pool cannot stall them.
    public init(maxConcurrentRuns: Int = 4, degradedAfter: Int = 5, stateDirectory: String?, logger: Logger, status: StatusRegistry = StatusRegistry(),
                executor: (any TaskExecutor)? = nil, defaultAlerts: AlertSettings? = nil, coordinator: (any RunCoordinator)? = nil,
                elsewhereRecheck: Double = 30) {
        self.executor = executor
        self.coordinator = coordinator
        self.elsewhereRecheck = elsewhereRecheck
        self.defaultAlerts = defaultAlerts
        self.status = status
        self.logger = logger
        limiter = ConcurrencyLimiter(limit: maxConcurrentRuns)
        self.degradedAfter = max(1, degradedAfter)
        lastStarts = stateDirectory.map { LastStartStore(directory: $0 + "/.schedule") }
    }

    /// Makes `works` the scheduled set: new names start, names gone stop (their current run
    /// finishes and commits first), and a work whose fingerprint changed is stopped and started
    /// again. Unchanged works are not touched.
    public func apply(_ works: [(work: any ScheduledWork, fingerprint: String)]) async {
        let wanted = Dictionary(works.map { ($0.work.name, $0) }, uniquingKeysWith: { a, _ in a })
        await stop(entries.keys.filter { wanted[$0] == nil || wanted[$0]!.fingerprint != entries[$0]!.fingerprint })
        for (name, item) in wanted where entries[name] == nil {
            start(item.work, fingerprint: item.fingerprint)
        }
    }

    /// Stops every work: each finishes its current run (committing what it holds) and ends.
    public func stopAll() async {
        await stop(Array(entries.keys))
    }

    public var names: [String] { entries.keys.sorted() }

    private func start(_ work: any ScheduledWork, fingerprint: String) {
        let stop = StopToken()
        let wakeup = Wakeup()
        status.register(WorkStatus(name: work.name, group: work.group, host: work.host, kind: work.kind, schedule: work.schedule.description,
                                   after: work.after, state: .waiting, nextRun: nil, lastSuccess: nil, consecutiveFailures: 0, runs: []))
        let loop = WorkLoop(work: work, stop: stop, wakeup: wakeup, status: status, limiter: limiter, degradedAfter: degradedAfter,
                            lastStarts: lastStarts, logger: logger, scheduler: self, alerts: work.alerts ?? defaultAlerts, coordinator: coordinator,
                            elsewhereRecheck: elsewhereRecheck)
        let task = Task(executorPreference: executor) { await loop.run() }
        entries[work.name] = Entry(work: work, fingerprint: fingerprint, stop: stop, wakeup: wakeup, task: task)
    }

    /// Stops the works together, not one after the other: each is told first, then all are
    /// awaited, so a drain takes as long as the slowest current run, not the sum of them.
    private func stop(_ names: [String]) async {
        var stopping: [(name: String, entry: Entry)] = []
        for name in names {
            if let entry = entries.removeValue(forKey: name) { stopping.append((name, entry)) }
        }
        for (_, entry) in stopping {
            entry.stop.stop()
            entry.wakeup.signal()
        }
        await withTaskGroup(of: Void.self) { group in
            for (name, entry) in stopping {
                group.addTask { [status] in
                    await entry.task.value
                    await entry.work.shutdown()
                    status.remove(name)
                }
            }
        }
    }

    /// Called by a loop after a successful run: wakes the works waiting for it.
    func succeeded(_ name: String) {
        for (dependent, var entry) in entries where entry.work.after.contains(name) {
            entry.upstreamDone.insert(name)
            if Set(entry.work.after).isSubset(of: entry.upstreamDone) {
                entry.upstreamDone = []
                entry.wakeup.signal()
            }
            entries[dependent] = entry
        }
    }
}

/// One work's schedule loop.
struct WorkLoop: Sendable {
    let work: any ScheduledWork
    let stop: StopToken
    let wakeup: Wakeup
    let status: StatusRegistry
    let limiter: ConcurrencyLimiter
    let degradedAfter: Int
    let lastStarts: LastStartStore?
    let logger: Logger
    let scheduler: Scheduler
    let alerts: AlertSettings?
    let coordinator: (any RunCoordinator)?
    /// How soon a cron work whose firing another daemon is serving looks again (it runs it itself
    /// if that daemon dies before succeeding).
    let elsewhereRecheck: Double

    func run() async {
        var log = logger
        log[metadataKey: work.kind.rawValue] = "\(work.name)"
        let backoff = BackoffPolicy(maxDelay: work.retryMaxDelay)
        var failures = 0
        var retryDelay: Double = 0
        var health = AlertTracker(degradedAfter: degradedAfter)
        var lastEnded: Date?
        var elsewhereWait: Double?
        let metrics = RunMetrics(name: work.group ?? work.name, host: work.host, kind: work.kind)
        var catchUp = missedWhileDown()
        if catchUp { log.info("a scheduled run was missed while the daemon was down: running once now") }
        while !stop.isStopped {
            let now = Date()
            let scheduled = work.schedule.delay(now: now, lastRunEnded: lastEnded)
            let wait: Double?
            if catchUp {
                wait = 0
            } else if let elsewhereWait {
                wait = elsewhereWait
            } else if failures > 0 {
                wait = retryDelay
            } else {
                wait = scheduled
            }
            status.update(work.name) { s in
                s.nextRun = wait.map { now.addingTimeInterval($0) }
                if s.state != .elsewhere { s.state = failures == 0 ? .waiting : failures >= degradedAfter ? .degraded : .failing }
            }
            let triggered = await wakeup.wait(seconds: wait)
            if stop.isStopped { break }
            if wait == nil && !triggered { continue }
            let wasCatchUp = catchUp
            catchUp = false
            elsewhereWait = nil

            await limiter.acquire()
            if stop.isStopped {
                await limiter.release()
                break
            }
            let started = Date()
            var lease: (any RunLease)?
            if let coordinator {
                switch await claim(coordinator, started: started, log: log) {
                case .run(let l):
                    lease = l
                case .skip(let retry):
                    await limiter.release()
                    elsewhereWait = retry
                    if retry == nil { lastEnded = Date() }
                    continue
                case .failed(let error):
                    // The coordination database is unreachable: nothing runs unclaimed; retried
                    // with backoff like a failed run.
                    await limiter.release()
                    failures += 1
                    retryDelay = backoff.delay(afterFailures: failures)
                    let message = "cannot claim the run (\(coordinator.description)): \(error)"
                    status.record(work.name, RunRecord(started: started, ended: Date(), succeeded: false, error: message))
                    status.update(work.name) { $0.consecutiveFailures = failures; $0.runningOn = nil }
                    if let alert = health.failed(work.name, failures: failures, error: message) { notify(alert, log) }
                    log.error("\(message); retrying in \(String(format: "%.1f", retryDelay)) s")
                    if wasCatchUp { catchUp = true }
                    continue
                }
            }
            status.update(work.name) { $0.state = .running; $0.nextRun = nil; $0.runningOn = nil }
            // Only a cron work reads it back (catch-up after downtime): no file write per poll.
            if case .cron = work.schedule { lastStarts?.save(work.name, started) }
            do {
                let outcome: RunOutcome
                do { outcome = try await work.run(stop: stop) } catch {
                    await lease?.end(succeededRunStarted: nil)
                    throw error
                }
                await lease?.end(succeededRunStarted: started)
                await limiter.release()
                failures = 0
                let ended = Date()
                metrics.finished(started: started, ended: ended, succeeded: true)
                status.record(work.name, RunRecord(started: started, ended: ended, succeeded: true, records: outcome.records,
                                                   deadLetters: outcome.deadLetters, bytes: outcome.bytes, newestData: outcome.newestData))
                status.update(work.name) { $0.consecutiveFailures = 0 }
                if !outcome.isEmpty {
                    log.info("run finished", metadata: ["records": "\(outcome.records)", "dead_letters": "\(outcome.deadLetters)", "bytes": "\(outcome.bytes)"])
                } else if case .watch = work.schedule {
                    log.trace("poll finished, nothing new")
                } else {
                    log.debug("run finished, nothing new")
                }
                if let alert = health.succeeded(work.name) { notify(alert, log) }
                await scheduler.succeeded(work.name)
            } catch {
                await limiter.release()
                failures += 1
                // Refused credentials will not fix themselves in seconds: wait for the schedule, at
                // least five minutes (a retry storm can also lock the account).
                if (error as? ConnectorError)?.code == .authentication {
                    retryDelay = max(300, work.schedule.delay(now: Date(), lastRunEnded: Date()) ?? 300)
                } else {
                    retryDelay = backoff.delay(afterFailures: failures)
                }
                let message = "\(error)"
                let ended = Date()
                metrics.finished(started: started, ended: ended, succeeded: false)
                status.record(work.name, RunRecord(started: started, ended: ended, succeeded: false, error: message))
                status.update(work.name) { $0.consecutiveFailures = failures }
                if stop.isStopped { break }
                if let alert = health.failed(work.name, failures: failures, error: message) { notify(alert, log) }
                log.error("run failed; retrying in \(String(format: "%.1f", retryDelay)) s: \(message)",
                          metadata: ["failures": "\(failures)", "state": "\(failures >= degradedAfter ? "degraded" : "failing")"])
            }
            lastEnded = Date()
        }
        status.update(work.name) { $0.state = .stopped; $0.nextRun = nil }
    }

    private enum ClaimOutcome {
        case run(any RunLease)
        /// Not this daemon's run: look again after this many seconds (nil: at the next scheduled time).
        case skip(retry: Double?)
        case failed(any Error)
    }

    /// Claims the run from the coordinator. A work another daemon holds is skipped (status
    /// `elsewhere`); so is a cron firing that another daemon has already served.
    private func claim(_ coordinator: any RunCoordinator, started: Date, log: Logger) async -> ClaimOutcome {
        let claim: RunClaim
        do { claim = try await coordinator.claim(work.name) } catch { return .failed(error) }
        switch claim {
        case .heldElsewhere(let holder):
            let was = status.status(of: work.name)?.state
            status.update(work.name) { $0.state = .elsewhere; $0.runningOn = holder }
            if was != .elsewhere { log.info("running on another daemon; this one waits", metadata: ["holder": "\(holder ?? "unknown")"]) }
            if case .cron = work.schedule { return .skip(retry: elsewhereRecheck) }
            return .skip(retry: nil)
        case .granted(let lease):
            if case let .cron(cron) = work.schedule, let last = lease.lastSuccessfulStart,
               let next = cron.next(after: last), next > started {
                await lease.end(succeededRunStarted: nil)
                status.update(work.name) { $0.state = .waiting; $0.runningOn = nil; $0.lastSuccess = max($0.lastSuccess ?? last, last) }
                log.debug("this firing was served by another daemon", metadata: ["started": "\(last)"])
                return .skip(retry: nil)
            }
            return .run(lease)
        }
    }

    private func notify(_ alert: Alert, _ log: Logger) {
        log.notice("pipeline \(alert.state.rawValue)", metadata: ["previous": "\(alert.previous)", "failures": "\(alert.failures)"])
        if let alerts { AlertSender.send(alert, to: alerts, logger: log) }
    }

    /// A cron work whose firing passed since its last start, while nothing ran it.
    private func missedWhileDown() -> Bool {
        guard case let .cron(cron) = work.schedule, let last = lastStarts?.load(work.name),
              let due = cron.next(after: last) else { return false }
        return due < Date()
    }
}

/// A work's run metrics through swift-metrics: how long runs take (a histogram in Prometheus)
/// and how many succeeded and failed.
struct RunMetrics: Sendable {
    let duration: CoreMetrics.Timer
    let succeeded: Counter
    let failed: Counter

    init(name: String, host: String?, kind: WorkKind) {
        let d = [("pipeline", name)] + (host.map { [("host", $0)] } ?? []) + [("kind", kind.rawValue)]
        duration = CoreMetrics.Timer(label: "sluice_run_duration_seconds", dimensions: d)
        succeeded = Counter(label: "sluice_runs_total", dimensions: d + [("outcome", "success")])
        failed = Counter(label: "sluice_runs_total", dimensions: d + [("outcome", "failure")])
    }

    func finished(started: Date, ended: Date, succeeded ok: Bool) {
        duration.recordNanoseconds(Int64(max(0, ended.timeIntervalSince(started)) * 1e9))
        (ok ? succeeded : failed).increment()
    }
}

/// The last start of each work, one small file per work (private), for the catch-up run.
struct LastStartStore: Sendable {
    let directory: String

    private func path(_ name: String) -> String {
        let safe = name.unicodeScalars.map { c -> String in
            CharacterSet.alphanumerics.contains(c) && c.isASCII || c == "-" || c == "_" || c == "." ? String(c) : String(format: "%%%02X", c.value)
        }.joined()
        return directory + "/" + safe + ".last-start"
    }

    /// Best effort: a lost start only means no catch-up run.
    func save(_ name: String, _ date: Date) {
        try? FileUtilities.writeAtomically(Array(String(date.timeIntervalSince1970).utf8), to: path(name))
    }

    func load(_ name: String) -> Date? {
        guard let data = FileManager.default.contents(atPath: path(name)), let t = Double(String(decoding: data, as: UTF8.self)) else { return nil }
        return Date(timeIntervalSince1970: t)
    }
}
