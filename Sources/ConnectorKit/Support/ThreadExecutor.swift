import Foundation

/// A serial executor backed by one dedicated thread that lives only while it has work.
///
/// Blocking C calls (libpq, libsmbclient, libssh2) must not run on Swift's cooperative pool: on a
/// 2-core machine two blocked calls freeze every other task. An actor whose `unownedExecutor` is a
/// `ThreadExecutor` runs all its methods on its own thread instead.
///
/// The thread starts with the first job and ends on `shutdown()` (the owner closes its connection)
/// once the jobs queued by then have run, or after `idleTimeout` without work; a later job starts
/// a new one. So a closed connection holds no thread, and an owner that is dropped without
/// closing does not leak one for ever.
///
/// `@unchecked Sendable`: every stored property is only touched under `condition`'s lock, and the
/// thread is the only consumer of the queue.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    /// A task's job, or a block given to `execute`.
    private enum Work {
        case job(UnownedJob)
        case block(@Sendable () -> Void)
    }

    private var jobs: [Work] = []
    private var threadAlive = false
    private var stopping = false
    private let name: String
    private let idleTimeout: Double?

    /// - Parameter idleTimeout: seconds without work after which the thread ends; `nil` keeps it
    ///   until `shutdown()` (for a library that must always be called from the same thread).
    public init(name: String, idleTimeout: Double? = 30) {
        self.name = name
        self.idleTimeout = idleTimeout
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        append(.job(UnownedJob(job)))
    }

    /// Runs `body` on this executor's thread after the work queued before it, without waiting
    /// for it: for a worker that is fed work while its feeder goes on.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        append(.block(body))
    }

    private func append(_ work: Work) {
        condition.lock()
        jobs.append(work)
        if threadAlive {
            condition.signal()
        } else {
            threadAlive = true
            stopping = false
            let t = Thread { self.loop() }
            t.name = name
            t.stackSize = 1 << 20
            t.start()
        }
        condition.unlock()
    }

    /// Ends the thread once the jobs queued now have run. Safe to call from a job on this executor.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// True while a thread serves this executor (for tests of resource lifetimes).
    public var hasThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        return threadAlive
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping {
                if let idleTimeout {
                    if !condition.wait(until: Date().addingTimeInterval(idleTimeout)) && jobs.isEmpty { stopping = true }
                } else {
                    condition.wait()
                }
            }
            if jobs.isEmpty {
                threadAlive = false
                stopping = false
                condition.unlock()
                return
            }
            let work = jobs.removeFirst()
            condition.unlock()
            switch work {
            case let .job(job): job.runSynchronously(on: asUnownedSerialExecutor())
            case let .block(body): body()
            }
        }
    }
}
