import Foundation

/// Which dumps to keep: the newest of each of the `daily` most recent days that have a dump, and
/// the newest of each of the `monthly` most recent months that have one (UTC days and months,
/// as in the file names). Everything else of the same database is removed.
public enum BackupRetention {
    public struct Dump: Sendable, Equatable {
        public var file: String
        public var taken: Date
        public init(file: String, taken: Date) {
            self.file = file
            self.taken = taken
        }
    }

    public static func keep(_ dumps: [Dump], daily: Int, monthly: Int) -> Set<String> {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let newestFirst = dumps.sorted { $0.taken > $1.taken }
        var kept = Set<String>()
        func keepNewest(per period: (Date) -> DateComponents, count: Int) {
            var periods = Set<DateComponents>()
            for d in newestFirst {
                let p = period(d.taken)
                if periods.contains(p) { continue }
                if periods.count == count { break }
                periods.insert(p)
                kept.insert(d.file)
            }
        }
        keepNewest(per: { utc.dateComponents([.year, .month, .day], from: $0) }, count: daily)
        keepNewest(per: { utc.dateComponents([.year, .month], from: $0) }, count: monthly)
        return kept
    }

    /// `<label>-20261130T020000Z.dump` → its time; nil for any other name.
    public static func parse(_ file: String, label: String) -> Date? {
        let prefix = label + "-", suffix = ".dump"
        guard file.hasPrefix(prefix), file.hasSuffix(suffix) else { return nil }
        let stamp = file.dropFirst(prefix.count).dropLast(suffix.count)
        guard stamp.count == 16 else { return nil }
        return stampFormatter().date(from: String(stamp))
    }

    public static func fileName(label: String, taken: Date) -> String {
        "\(label)-\(stampFormatter().string(from: taken)).dump"
    }

    private static func stampFormatter() -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f
    }
}
