import Foundation
import Synchronization
import Testing

/// Threads for tests that block: the end-to-end tests wait for `sluice` processes, sleep between
/// polls and read pipes to their end, synchronously.
///
/// Swift Testing runs every test on the cooperative pool, one thread per core: on a 2-core CI
/// machine two blocked tests stalled all the others (simple tests reported "passed after 360
/// seconds", most of it spent waiting for a thread, while the machine was half idle). A suite
/// marked `.blockingWork` runs its tests here instead (a task executor preference, so `#expect`
/// still knows its test). Any job finds a thread at once (a new one when none is idle), so a
/// blocked test never holds up another's work; how many tests run at once is bounded instead, by
/// `TestSlots`.
public final class BlockingTestThreads: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs`, `threads` and `idle` are only touched with `condition` locked.
    public static let shared = BlockingTestThreads()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var threads = 0
    private var idle = 0
    static let maximumThreads = 64

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        // A new thread when more jobs wait than threads do (up to a bound that only a burst of
        // short jobs reaches); threads then stay for the run.
        if jobs.count > idle && threads < Self.maximumThreads {
            threads += 1
            let t = Thread { [self] in work() }
            t.name = "sluice-test-\(threads)"
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

/// How many tests run at once (`SLUICE_TEST_THREADS`, default four per core): enough to overlap
/// their waiting, few enough that tests with time limits are not starved of CPU. A test waits for
/// a slot without holding a thread. 0: tests run on the cooperative pool as Swift Testing runs
/// them (the sanitizer runs do: there more threads cost more than they save, see
/// scripts/sanitize.sh).
public enum TestSlots {
    public static let limit = Int(ProcessInfo.processInfo.environment["SLUICE_TEST_THREADS"] ?? "").flatMap { $0 >= 0 ? $0 : nil }
        ?? 4 * ProcessInfo.processInfo.activeProcessorCount

    /// Set while a test holds a slot: its nested scopes (a parameterized test's cases) take none.
    @TaskLocal static var held = false

    private struct State {
        var free = TestSlots.limit
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private static let state = Mutex(State())

    static func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.free > 0 { s.free -= 1; return true }
                s.waiting.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    static func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty { s.free += 1; return nil }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// Runs a suite's (or a test's) tests on `BlockingTestThreads`, at most `TestSlots.limit` at once.
public struct BlockingWorkTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        if TestSlots.limit == 0 {
            try await function()
            return
        }
        if test.isSuite || TestSlots.held {
            try await withTaskExecutorPreference(BlockingTestThreads.shared) { try await function() }
            return
        }
        await TestSlots.acquire()
        defer { TestSlots.release() }
        try await TestSlots.$held.withValue(true) {
            try await withTaskExecutorPreference(BlockingTestThreads.shared) { try await function() }
        }
    }
}

extension Trait where Self == BlockingWorkTrait {
    /// The tests wait on processes, pipes or sleeps: see `BlockingTestThreads`.
    public static var blockingWork: Self { BlockingWorkTrait() }
}
