import Foundation

/// Writes machine logs the way factory machines do, deterministically from a seed:
/// - `.xp`: a Windows XP PC's TXT log: Windows-1252, `;`, decimal comma, `dd/MM/yyyy HH:mm:ss`, CRLF,
///   Portuguese header with accents; the machine rewrites the whole file in place every few minutes.
/// - `.linux`: a Linux box's CSV: UTF-8, `,`, ISO 8601 timestamps, LF; appended to.
/// - `.plant`: a line controller's wider CSV: nine columns, plant-local time with milliseconds
///   and no offset (`yyyy-MM-dd HH:mm:ss.SSS`, Europe/Berlin with its DST changes), empty fields
///   (NULLs) in four of them; UTF-8, `,`, LF; appended to.
/// Row `k` of a machine depends only on (seed, machine, k), so runs can continue a file across
/// invocations and tests can recompute exactly what was written.
public struct MachineSimulator: Sendable {
    public enum Style: String, Sendable, CaseIterable { case xp, linux, plant }
    public enum Mode: String, Sendable, CaseIterable {
        /// Add the new rows at the end of the file.
        case append
        /// Truncate the file and write header, old rows and new rows again (same inode), as XP machines do.
        case rewrite
    }

    public var style: Style
    public var seed: UInt64
    /// First row's time (seconds since the epoch, machine-local wall clock).
    public var start: Int64 = 1_735_700_400 // 2025-01-01 03:00:00
    /// Seconds between rows.
    public var interval: Int64 = 5

    public init(style: Style, seed: UInt64) {
        self.style = style
        self.seed = seed
    }

    public var fileName: String { style == .xp ? "log.txt" : "data.csv" }

    /// The zone of `.plant` timestamps: local wall-clock time written without an offset.
    public static let plantZone = "Europe/Berlin"

    public var header: [UInt8] {
        switch style {
        case .xp: encode1252("Data Hora;Máquina;Temperatura;Pressão;Status;Operador") + [0x0D, 0x0A]
        case .linux: Array("timestamp,machine,temperature,pressure,status,count\n".utf8)
        case .plant: Array("timestamp,machine,temperature,pressure,speed,status,operator,count,batch\n".utf8)
        }
    }

    static let statuses = ["OK", "OK", "OK", "OK", "ALARME", "PARADA", "MANUTENÇÃO"]
    static let operators = ["José", "João", "Conceição", "Ângela", "Luís", "Márcio", "Ana"]

    /// The text of row `k` of `machine`, line end included.
    public func row(_ k: Int, machine: String) -> [UInt8] {
        var rng = SplitMix64(seed: seed ^ stableHash(machine) ^ (UInt64(k) &* 0x9E37_79B9_7F4A_7C15))
        let t = start + Int64(k) * interval
        let temp = 20 + Double(rng.next() % 700_000) / 10_000 // 20.0000 … 89.9999
        let pressure = Double(rng.next() % 100_000) / 100 // 0.00 … 999.99
        let status = Self.statuses[Int(rng.next() % UInt64(Self.statuses.count))]
        switch style {
        case .xp:
            let op = Self.operators[Int(rng.next() % UInt64(Self.operators.count))]
            let line = "\(xpTime(t));\(machine);\(decimalComma(temp, 2));\(decimalComma(pressure, 2));\(status);\(op)"
            return encode1252(line) + [0x0D, 0x0A]
        case .linux:
            let count = rng.next() % 10_000
            return Array("\(isoTime(t)),\(machine),\(fixed(temp, 3)),\(fixed(pressure, 2)),\(status),\(count)\n".utf8)
        case .plant:
            let count = rng.next() % 10_000
            let millis = Int(rng.next() % 1000)
            let speed = rng.next() % 5 == 0 ? "" : String(rng.next() % 3000)
            let op = rng.next() % 4 == 0 ? "" : Self.operators[Int(rng.next() % UInt64(Self.operators.count))]
            let batch = rng.next() % 3 == 0 ? "" : "B\(k / 720)"
            let shownTemp = rng.next() % 20 == 0 ? "" : fixed(temp, 3)
            return Array("\(plantTime(t, millis)),\(machine),\(shownTemp),\(fixed(pressure, 2)),\(speed),\(status),\(op),\(count),\(batch)\n".utf8)
        }
    }

    /// Header plus rows `0..<count`.
    public func file(rows count: Int, machine: String) -> [UInt8] {
        var out = header
        for k in 0..<count { out += row(k, machine: machine) }
        return out
    }

    /// Brings `path` to `total` rows: appends the missing rows, or rewrites the whole file in place.
    /// Returns how many rows were added.
    @discardableResult
    public func write(path: String, machine: String, totalRows total: Int, mode: Mode) throws -> Int {
        let existing = try Self.countRows(path: path)
        guard total > existing else { return 0 }
        let fm = FileManager.default
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        switch mode {
        case .append:
            if !fm.fileExists(atPath: path) { _ = fm.createFile(atPath: path, contents: Data(header)) }
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? h.close() }
            try h.seekToEnd()
            var chunk: [UInt8] = []
            for k in existing..<total {
                chunk += row(k, machine: machine)
                if chunk.count > 1 << 20 { try h.write(contentsOf: chunk); chunk.removeAll(keepingCapacity: true) }
            }
            try h.write(contentsOf: chunk)
        case .rewrite:
            // Same inode, truncated and written again from the start.
            if !fm.fileExists(atPath: path) { _ = fm.createFile(atPath: path, contents: nil) }
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? h.close() }
            try h.truncate(atOffset: 0)
            var chunk = header
            for k in 0..<total {
                chunk += row(k, machine: machine)
                if chunk.count > 1 << 20 { try h.write(contentsOf: chunk); chunk.removeAll(keepingCapacity: true) }
            }
            try h.write(contentsOf: chunk)
        }
        return total - existing
    }

    /// Data rows already in a simulator file (lines after the header).
    public static func countRows(path: String) throws -> Int {
        guard let h = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? h.close() }
        var lines = 0
        while let d = try h.read(upToCount: 1 << 20), !d.isEmpty {
            lines += d.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        return max(0, lines - 1)
    }

    func xpTime(_ t: Int64) -> String {
        let (y, mo, d, h, mi, s) = civil(t)
        return String(format: "%02d/%02d/%04d %02d:%02d:%02d", d, mo, y, h, mi, s)
    }

    /// Europe/Berlin wall-clock time of UTC second `t` (CET, CEST from the last Sunday of March
    /// 01:00 UTC to the last Sunday of October 01:00 UTC), with milliseconds.
    func plantTime(_ t: Int64, _ millis: Int) -> String {
        let (y, _, _, _, _, _) = civil(t)
        func lastSunday(_ month: Int) -> Int64 {
            // Days from the epoch to the month's 31st, stepped back to a Sunday (1970-01-04 was one).
            var days = Int64(daysFromCivil(y, month, 31))
            while (days - 3) % 7 != 0 { days -= 1 }
            return days * 86_400 + 3600
        }
        let summer = t >= lastSunday(3) && t < lastSunday(10)
        let (ly, lmo, ld, lh, lmi, ls) = civil(t + (summer ? 7200 : 3600))
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%03d", ly, lmo, ld, lh, lmi, ls, millis)
    }

    func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    func isoTime(_ t: Int64) -> String {
        let (y, mo, d, h, mi, s) = civil(t)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s)
    }

    func civil(_ t: Int64) -> (Int, Int, Int, Int, Int, Int) {
        let days = Int(t / 86400), secs = Int(t % 86400)
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d, secs / 3600, secs / 60 % 60, secs % 60)
    }

    func fixed(_ v: Double, _ places: Int) -> String { String(format: "%.\(places)f", v) }
    func decimalComma(_ v: Double, _ places: Int) -> String { fixed(v, places).replacingOccurrences(of: ".", with: ",") }

    func encode1252(_ s: String) -> [UInt8] {
        s.unicodeScalars.map { u in u.value < 256 ? UInt8(u.value) : UInt8(ascii: "?") }
    }

    func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}

/// SplitMix64: tiny, fast, and the same on every platform (the simulator's and the tests'
/// deterministic randomness).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
