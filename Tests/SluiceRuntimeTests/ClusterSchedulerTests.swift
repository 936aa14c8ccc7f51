import ConnectorKit
import Foundation
import Logging
import PipelineLoader
import PostgresConnector
@testable import SluiceRuntime
import Testing
import TestSupport

/// Two schedulers in one process stand for two daemons of a cluster; their claims go through the
/// real `PostgresRunCoordinator` on the test server.
/// The test server of scripts/pg-start.sh; under CI (`CI=true`) the suite always runs.
enum ClusterTestDatabase {
    static let url = ProcessInfo.processInfo.environment["SLUICE_TEST_PG"] ?? "postgresql://postgres@127.0.0.1:55432/postgres"
    static let password = ProcessInfo.processInfo.environment["SLUICE_TEST_PG"] == nil ? "testpw" : nil
    static let enabled: Bool = {
        if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
        let probe = PostgresRunCoordinator(database: PostgresClusterDatabase(url: url, password: password, node: "probe", connectTimeout: 2), logger: quiet)
        let done = DispatchSemaphore(value: 0)
        let ok = Locked(false)
        Task {
            if case let .granted(l) = try? await probe.claim("probe") { await l.end(succeededRunStarted: nil); ok.withLock { $0 = true } }
            done.signal()
        }
        done.wait()
        return ok.withLock { $0 }
    }()
}

@Suite(.blockingWork, .serialized, .enabled(if: ClusterTestDatabase.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct ClusterSchedulerTests {
    func scheduler(_ node: String, stateDirectory: String? = nil) -> Scheduler {
        let coordinator = PostgresRunCoordinator(database: PostgresClusterDatabase(url: ClusterTestDatabase.url, password: ClusterTestDatabase.password, node: node), logger: quiet)
        return Scheduler(maxConcurrentRuns: 4, stateDirectory: stateDirectory, logger: quiet, executor: TestThread.shared,
                         coordinator: coordinator, elsewhereRecheck: 0.2)
    }

    /// Runs of one work on both schedulers, some failing: never two at once, and a failed run
    /// releases its claim (otherwise no run would follow the first failure).
    @Test func oneWorkOnTwoDaemonsRunsOnceAtATimeAndFailuresReleaseTheClaim() async throws {
        try await onTestThread {
            let name = "cluster-sched-\(UUID().uuidString.prefix(8))"
            let journal = Journal()
            let ranOn = Locked<[String: Int]>([:])
            func work(_ node: String) -> FakeWork {
                FakeWork(name: name, schedule: .every(0.02), retryMaxDelay: 0.05, journal: journal) { n in
                    ranOn.withLock { $0[node, default: 0] += 1 }
                    try await Task.sleep(for: .milliseconds(30))
                    if n % 3 == 0 { throw Boom() }
                    return RunOutcome(records: 1)
                }
            }
            let a = scheduler("sched-a"), b = scheduler("sched-b")
            await a.apply([(work("sched-a"), "1")])
            await b.apply([(work("sched-b"), "1")])
            let enough = await eventually(60) { journal.runs(name).count >= 30 }
            await a.stopAll()
            await b.stopAll()
            #expect(enough, "\(journal.runs(name).count) runs in 60 s")
            #expect(journal.maxAtOnce(name) == 1, "the work ran on both daemons at once")
            let counts = ranOn.withLock { $0 }
            #expect((counts["sched-a"] ?? 0) > 0 && (counts["sched-b"] ?? 0) > 0, "one daemon never ran it: \(counts)")
        }
    }

    /// A cron work due on both daemons (a missed firing after downtime) is served once; if the
    /// daemon serving it fails, the other serves the firing.
    @Test func aCronFiringIsServedOnceAcrossDaemonsAndTakenOverWhenItFails() async throws {
        try await onTestThread {
            for failFirst in [false, true] {
                let name = "cluster-cron-\(UUID().uuidString.prefix(8))"
                let journal = Journal()
                let successes = Locked(0)
                let cron = try Schedule.parse("0 0 1 1 *", timeZone: TimeZone(identifier: "UTC")!)
                func work() -> FakeWork {
                    FakeWork(name: name, schedule: cron, retryMaxDelay: 60, journal: journal) { n in
                        try await Task.sleep(for: .milliseconds(400))
                        if failFirst && n == 1 { throw Boom() }
                        successes.withLock { $0 += 1 }
                        return RunOutcome(records: 1)
                    }
                }
                // Both last started the work two years ago: each would catch up at start.
                var dirs: [String] = []
                for _ in 0..<2 {
                    let dir = NSTemporaryDirectory() + "sluice-cron-\(UUID().uuidString.prefix(8))"
                    try FileManager.default.createDirectory(atPath: dir + "/.schedule", withIntermediateDirectories: true)
                    try String(Date().timeIntervalSince1970 - 2 * 366 * 86400).write(toFile: "\(dir)/.schedule/\(name).last-start", atomically: false, encoding: .utf8)
                    dirs.append(dir)
                }
                defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
                let a = scheduler("cron-a", stateDirectory: dirs[0]), b = scheduler("cron-b", stateDirectory: dirs[1])
                await a.apply([(work(), "1")])
                await b.apply([(work(), "1")])
                _ = await eventually(10) { successes.withLock { $0 } >= 1 }
                // Long enough for the other daemon to look again several times.
                try await Task.sleep(for: .seconds(2))
                await a.stopAll()
                await b.stopAll()
                #expect(successes.withLock { $0 } == 1, "failFirst \(failFirst): the firing was served \(successes.withLock { $0 }) times")
                #expect(journal.runs(name).count == (failFirst ? 2 : 1), "failFirst \(failFirst): \(journal.runs(name).count) runs")
                #expect(journal.maxAtOnce(name) == 1)
            }
        }
    }
}
