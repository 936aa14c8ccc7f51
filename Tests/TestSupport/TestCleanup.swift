#if canImport(Glibc)
import Glibc
#endif
import ConnectorKit
import Foundation
import Synchronization

/// Removes what tests leave in /tmp (inputs of hundreds of MB, outputs, dead letters) when the
/// test process exits, passed or failed.
public enum TestCleanup {
    private static let paths = Locked<[String]>([])
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

/// Sizes of the heavy tests (rows, bytes), divided by `SLUICE_TEST_SCALE_DOWN` (default 1): the
/// sanitizer runs (scripts/sanitize.sh) use 10, since an instrumented build is several times slower.
public enum TestScale {
    public static let divisor: Int = max(1, Int(ProcessInfo.processInfo.environment["SLUICE_TEST_SCALE_DOWN"] ?? "") ?? 1)
    public static func rows(_ n: Int) -> Int { max(1, n / divisor) }
    public static func bytes(_ n: Int64) -> Int64 { max(1, n / Int64(divisor)) }
}
