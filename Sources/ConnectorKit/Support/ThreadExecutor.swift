import Foundation

/// A serial executor backed by one dedicated thread.
///
/// Blocking C calls (libpq, libsmbclient, libssh2) must not run on Swift's cooperative pool: on a
/// 2-core machine two blocked calls freeze every other task. An actor whose `unownedExecutor` is a
/// `ThreadExecutor` runs all its methods on its own thread instead.
///
/// `@unchecked Sendable`: the job queue is only touched under `condition`'s lock, and the thread
/// is the only consumer.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var thread: Thread?

    public init(name: String) {
        let t = Thread { [unowned self] in self.loop() }
        t.name = name
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        condition.lock()
        jobs.append(j)
        condition.signal()
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }
}
