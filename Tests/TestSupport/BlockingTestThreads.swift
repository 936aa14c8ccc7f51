import Foundation
import Testing

/// Threads for tests that block: the end-to-end tests wait for `sluice` processes, sleep between
/// polls and read pipes to their end, synchronously.
///
/// Swift Testing runs every test on the cooperative pool, one thread per core: on a 2-core CI
/// machine two blocked tests stalled all the others (simple tests reported "passed after 360
/// seconds", most of it spent waiting for a thread, while the machine was half idle). A suite
/// marked `.blockingWork` runs its tests on these threads instead (a task executor preference,
/// so `#expect` still knows its test): more tests wait side by side, and the pool stays free.
///
/// The number of threads is bounded (`SLUICE_TEST_THREADS`, default four per core): enough to
/// overlap the waiting, few enough that tests with time limits are not starved of CPU.
public final class BlockingTestThreads: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `started` are only touched with `condition` locked.
    public static let shared = BlockingTestThreads(
        threads: Int(ProcessInfo.processInfo.environment["SLUICE_TEST_THREADS"] ?? "").flatMap { $0 > 0 ? $0 : nil }
            ?? 4 * ProcessInfo.processInfo.activeProcessorCount)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var started = 0
    private var idle = 0
    private let limit: Int

    init(threads: Int) { limit = threads }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        // A new thread when more jobs wait than threads do, up to the limit; threads then stay
        // for the rest of the test run.
        if jobs.count > idle && started < limit {
            started += 1
            let t = Thread { [self] in work() }
            t.name = "sluice-test-\(started)"
            t.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            idle += 1
            while jobs.isEmpty { condition.wait() }
            idle -= 1
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs a suite's (or a test's) tests on `BlockingTestThreads` instead of the cooperative pool.
public struct BlockingWorkTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(BlockingTestThreads.shared) { try await function() }
    }
}

extension Trait where Self == BlockingWorkTrait {
    /// The tests wait on processes, pipes or sleeps: see `BlockingTestThreads`.
    public static var blockingWork: Self { BlockingWorkTrait() }
}
