import ConnectorKit
import Foundation
import Logging
import PipelineLoader
@testable import SluiceRuntime
import Testing
import TestSupport

/// A work whose runs are recorded; `body` decides each run's result (its argument is the run number).
struct FakeWork: ScheduledWork {
    let name: String
    var kind: WorkKind = .pipeline
    var schedule: Schedule
    var after: [String] = []
    var retryMaxDelay: Double = 0.2
    let journal: Journal
    var body: @Sendable (Int) async throws -> RunOutcome = { _ in RunOutcome(records: 1) }

    func run(stop: StopToken) async throws -> RunOutcome {
        let n = journal.begin(name)
        defer { journal.end(name) }
        return try await body(n)
    }

    func shutdown() async { journal.shutDown(name) }
}

/// Who ran when, and how many ran at once.
final class Journal: Sendable {
    struct Run: Sendable { var name: String; var started: Date; var ended: Date? }
    private struct State: Sendable {
        var runs: [Run] = []
        var running: [String: Int] = [:]
        var maxTotal = 0
        var maxPerWork: [String: Int] = [:]
        /// Per work: how many of its runs were in flight at each shutdown.
        var shutdowns: [String: [Int]] = [:]
    }
    private let state = Locked(State())

    func begin(_ name: String) -> Int {
        state.withLock { s in
            s.runs.append(Run(name: name, started: Date()))
            s.running[name, default: 0] += 1
            s.maxPerWork[name] = max(s.maxPerWork[name] ?? 0, s.running[name]!)
            s.maxTotal = max(s.maxTotal, s.running.values.reduce(0, +))
            return s.runs.filter { $0.name == name }.count
        }
    }

    func end(_ name: String) {
        state.withLock { s in
            s.running[name, default: 1] -= 1
            if let i = s.runs.lastIndex(where: { $0.name == name && $0.ended == nil }) { s.runs[i].ended = Date() }
        }
    }

    func shutDown(_ name: String) {
        state.withLock { s in s.shutdowns[name, default: []].append(s.running[name] ?? 0) }
    }

    /// How many of the work's runs were in flight at each of its shutdowns.
    func shutdowns(_ name: String) -> [Int] { state.withLock { $0.shutdowns[name] ?? [] } }

    func runs(_ name: String) -> [Run] { state.withLock { $0.runs.filter { $0.name == name } } }
    var maxTotal: Int { state.withLock { $0.maxTotal } }
    func maxAtOnce(_ name: String) -> Int { state.withLock { $0.maxPerWork[name] ?? 0 } }
}

struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }

let quiet = Logger(label: "scheduler-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// A thread of the tests' own for the scheduler and the test bodies: other suites block the
/// cooperative pool's threads (waiting for child processes) for a minute at a time.
/// `@unchecked Sendable`: `jobs` is only touched under `condition`'s lock.
final class TestThread: TaskExecutor, @unchecked Sendable {
    static let shared = TestThread()
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init() {
        let t = Thread { [unowned self] in self.loop() }
        t.name = "scheduler-tests"
        t.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        condition.lock()
        jobs.append(j)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs `body` on the tests' own thread.
func onTestThread(_ body: @Sendable () async throws -> Void) async throws {
    try await withTaskExecutorPreference(TestThread.shared) { try await body() }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite(.blockingWork) struct SchedulerTests {
    @Test func backoffDoublesUpToItsLimitWithJitterTakenOff() {
        let b = BackoffPolicy(maxDelay: 30, jitter: 0.2)
        #expect((1...7).map { b.delay(afterFailures: $0, random: 0) } == [1, 2, 4, 8, 16, 30, 30])
        #expect(b.delay(afterFailures: 3, random: 0.999) > 3.2 && b.delay(afterFailures: 3, random: 0.999) <= 4)
        #expect(b.delay(afterFailures: 1000, random: 0.5) == 27)
    }

    @Test func afterRunsOnlyOnceEveryUpstreamSucceeded() async throws {
        try await onTestThread {
            let journal = Journal()
            // A succeeds three times, then fails; B waits for A; C waits for A and D, and D never succeeds.
            let a = FakeWork(name: "a", schedule: .every(0.05), journal: journal) { n in if n > 3 { throw Boom() }; return RunOutcome(records: 1) }
            let b = FakeWork(name: "b", schedule: .manual, after: ["a"], journal: journal)
            let c = FakeWork(name: "c", schedule: .manual, after: ["a", "d"], journal: journal)
            let d = FakeWork(name: "d", schedule: .every(0.05), journal: journal) { _ in throw Boom() }
            let scheduler = Scheduler(maxConcurrentRuns: 4, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply([(a, "1"), (b, "1"), (c, "1"), (d, "1")])
            #expect(await eventually { journal.runs("a").count >= 6 })
            await scheduler.stopAll()
            let aRuns = journal.runs("a"), bRuns = journal.runs("b")
            #expect((1...3).contains(bRuns.count), "b ran \(bRuns.count) times for 3 successes of a")
            #expect(bRuns.allSatisfy { run in aRuns.prefix(3).contains { $0.ended! <= run.started } }, "b ran before a succeeded")
            #expect(journal.runs("c").isEmpty, "c ran although d never succeeded")
        }
    }

    @Test func aFailingWorkBacksOffAndDegradesWithoutStallingTheOthers() async throws {
        try await onTestThread {
            let journal = Journal()
            let failing = FakeWork(name: "failing", schedule: .every(0.01), retryMaxDelay: 0.1, journal: journal) { _ in throw Boom() }
            let healthy = FakeWork(name: "healthy", schedule: .every(0.02), journal: journal)
            let scheduler = Scheduler(maxConcurrentRuns: 4, degradedAfter: 3, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply([(failing, "1"), (healthy, "1")])
            #expect(await eventually { journal.runs("failing").count >= 4 })
            let status = try #require(scheduler.status.status(of: "failing"))
            #expect(status.consecutiveFailures >= 3)
            #expect(status.state == .degraded || status.state == .running)
            #expect(status.runs.last?.error == "boom")
            // Backoff: 0.1 s after each failure (retry_max_delay; jitter takes at most a fifth off),
            // where the schedule alone would start a run every 0.01 s.
            let failing4 = journal.runs("failing")
            #expect(failing4[3].started.timeIntervalSince(failing4[0].ended!) > 0.2)
            // Meanwhile the healthy work kept its schedule: more runs than the failing one's retries,
            // both counted at the same moment (on a starved CI machine the scheduler's thread may not
            // run for seconds, and then each wakes once: the counts are compared again until it runs).
            #expect(await eventually { journal.runs("healthy").count > journal.runs("failing").count },
                    "the healthy work ran \(journal.runs("healthy").count) times, the failing one \(journal.runs("failing").count)")
            #expect(scheduler.status.status(of: "healthy")?.consecutiveFailures == 0)
            await scheduler.stopAll()
            #expect(scheduler.status.status(of: "failing") == nil)
        }
    }

    @Test func neverTwiceAtOnceAndAGlobalLimit() async throws {
        try await onTestThread {
            let journal = Journal()
            let works = (1...4).map { i in
                FakeWork(name: "w\(i)", schedule: .every(0.001), journal: journal) { _ in
                    try await Task.sleep(for: .milliseconds(30))
                    return RunOutcome(records: 1)
                }
            }
            let scheduler = Scheduler(maxConcurrentRuns: 2, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply(works.map { ($0, "1") })
            #expect(await eventually { works.allSatisfy { journal.runs($0.name).count >= 3 } })
            await scheduler.stopAll()
            #expect(journal.maxTotal == 2)
            for w in works { #expect(journal.maxAtOnce(w.name) == 1) }
        }
    }

    @Test func aMissedCronFiringRunsOnceAtStartNotOncePerFiring() async throws {
        try await onTestThread {
            let dir = NSTemporaryDirectory() + "sluice-scheduler-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = LastStartStore(directory: dir + "/.schedule")
            let journal = Journal()
            // Hourly, last started three hours ago: three firings missed, one catch-up run.
            let missed = FakeWork(name: "missed", schedule: try Schedule.parse("0 * * * *"), journal: journal)
            store.save("missed", Date().addingTimeInterval(-3 * 3600))
            // Yearly, last started a minute ago: nothing missed, nothing runs.
            let current = FakeWork(name: "current", schedule: try Schedule.parse("0 0 1 1 *"), journal: journal)
            store.save("current", Date().addingTimeInterval(-60))
            let scheduler = Scheduler(maxConcurrentRuns: 4, stateDirectory: dir, logger: quiet, executor: TestThread.shared)
            await scheduler.apply([(missed, "1"), (current, "1")])
            #expect(await eventually { journal.runs("missed").count >= 1 })
            try await Task.sleep(for: .milliseconds(300))
            let next = scheduler.status.status(of: "missed")?.nextRun
            await scheduler.stopAll()
            #expect(journal.runs("missed").count == 1 || Calendar.current.component(.minute, from: Date()) == 0)
            #expect(journal.runs("current").isEmpty)
            #expect(next.map { $0 > Date() } == true, "after the catch-up it waits for the next firing")
            #expect(store.load("missed").map { Date().timeIntervalSince($0) < 60 } == true, "the catch-up run's start is kept")
        }
    }

    @Test func applyAddsRemovesAndRestartsOnlyWhatChanged() async throws {
        try await onTestThread {
            let journal = Journal()
            let a = FakeWork(name: "a", schedule: .every(0.02), journal: journal)
            let b = FakeWork(name: "b", schedule: .every(0.02), journal: journal)
            let c = FakeWork(name: "c", schedule: .every(0.02), journal: journal)
            let scheduler = Scheduler(maxConcurrentRuns: 4, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply([(a, "1"), (b, "1")])
            #expect(await eventually { (scheduler.status.status(of: "a")?.runs.count ?? 0) >= 3 })
            // b goes, c comes, a stays as it is: its history is kept.
            await scheduler.apply([(a, "1"), (c, "1")])
            #expect(await scheduler.names == ["a", "c"])
            #expect(scheduler.status.status(of: "b") == nil)
            #expect((scheduler.status.status(of: "a")?.runs.count ?? 0) >= 3)
            let bRuns = journal.runs("b").count
            #expect(await eventually { journal.runs("c").count >= 2 })
            #expect(journal.runs("b").count == bRuns, "b kept running after it was removed")
            // The removed work was shut down once, after its last run; the kept one not at all.
            #expect(journal.shutdowns("b") == [0])
            #expect(journal.shutdowns("a").isEmpty)
            // A changed a starts again (a new history); its old version is shut down.
            await scheduler.apply([(a, "2"), (c, "1")])
            #expect((scheduler.status.status(of: "a")?.runs.count ?? 0) < 3)
            #expect(journal.shutdowns("a") == [0])
            await scheduler.stopAll()
            #expect(journal.shutdowns("a") == [0, 0] && journal.shutdowns("c") == [0] && journal.shutdowns("b") == [0])
        }
    }

    @Test func stoppingWaitsForTheCurrentRunToFinish() async throws {
        try await onTestThread {
            let journal = Journal()
            let slow = FakeWork(name: "slow", schedule: .every(10), journal: journal) { _ in
                try? await Task.sleep(for: .milliseconds(300))
                return RunOutcome(records: 5)
            }
            let scheduler = Scheduler(maxConcurrentRuns: 1, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply([(slow, "1")])
            #expect(await eventually { journal.runs("slow").count == 1 })
            await scheduler.stopAll()
            #expect(journal.runs("slow").first?.ended != nil, "stopAll returned while a run was in flight")
            #expect(journal.shutdowns("slow") == [0], "shut down while its run was in flight, or not once")
        }
    }
}

/// A work whose run lasts until it is stopped, then drains: it counts itself as draining and
/// waits (up to 5 s) to see every other work draining too.
struct DrainingWork: ScheduledWork {
    let name: String
    var kind: WorkKind { .pipeline }
    var schedule: Schedule { .every(10) }
    var after: [String] { [] }
    var retryMaxDelay: Double { 0.2 }
    let started: Locked<Int>
    let draining: Locked<Int>
    let together: Int
    let sawAllDraining: Locked<[String: Bool]>

    func run(stop: StopToken) async throws -> RunOutcome {
        started.withLock { $0 += 1 }
        while !stop.isStopped { try? await Task.sleep(for: .milliseconds(10)) }
        draining.withLock { $0 += 1 }
        let deadline = Date().addingTimeInterval(5)
        while draining.withLock({ $0 }) < together && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        let all = draining.withLock { $0 } >= together
        sawAllDraining.withLock { $0[name] = all }
        return RunOutcome(records: 0)
    }
}

extension SchedulerTests {
    /// A daemon's drain takes as long as its slowest current run, not the sum of them: every
    /// work is told to stop before any is awaited (told one after the other, the first here would
    /// wait its 5 s alone).
    @Test func stopAllTellsEveryWorkBeforeWaitingForAny() async throws {
        try await onTestThread {
            let started = Locked(0), draining = Locked(0), saw = Locked<[String: Bool]>([:])
            let works = ["a", "b", "c"].map { DrainingWork(name: $0, started: started, draining: draining, together: 3, sawAllDraining: saw) }
            let scheduler = Scheduler(maxConcurrentRuns: 3, stateDirectory: nil, logger: quiet, executor: TestThread.shared)
            await scheduler.apply(works.map { ($0, "1") })
            #expect(await eventually { started.withLock { $0 } == 3 })
            await scheduler.stopAll()
            #expect(saw.withLock { $0 } == ["a": true, "b": true, "c": true])
        }
    }
}

@Suite(.blockingWork) struct AlertTrackerTests {
    /// Once per change of state, never per retry.
    @Test func tellsEachChangeOnce() {
        var t = AlertTracker(degradedAfter: 3)
        var told: [String] = []
        func note(_ a: Alert?) { if let a { told.append("\(a.previous)→\(a.state.rawValue)") } }
        note(t.succeeded("p"))
        for n in 1...5 { note(t.failed("p", failures: n, error: "boom")) }
        note(t.succeeded("p"))
        note(t.succeeded("p"))
        note(t.failed("p", failures: 1, error: "boom"))
        note(t.succeeded("p"))
        #expect(told == ["healthy→failing", "failing→degraded", "degraded→recovered", "healthy→failing", "failing→recovered"])
    }
}
