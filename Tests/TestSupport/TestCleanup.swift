#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Removes what tests leave in /tmp (inputs of hundreds of MB, outputs, dead letters) when the
/// test process exits, passed or failed.
public enum TestCleanup {
    private static let paths = Mutex<[String]>([])
    private static let registered = Atomic<Bool>(false)

    /// Registers `path` (a file or a folder) for removal at exit and returns it.
    @discardableResult
    public static func removeAtExit(_ path: String) -> String {
        paths.withLock { $0.append(path) }
        if !registered.exchange(true, ordering: .relaxed) {
            atexit { TestCleanup.removeAll() }
        }
        return path
    }

    static func removeAll() {
        for p in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: p) }
    }
}
