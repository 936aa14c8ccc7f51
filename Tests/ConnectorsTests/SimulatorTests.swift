import Foundation
import MachineSimulator
import Testing
import TestSupport

@Suite(.blockingWork) struct SimulatorTests {
    @Test func deterministicAndRewriteKeepsHistory() throws {
        let a = MachineSimulator(style: .xp, seed: 9), b = MachineSimulator(style: .xp, seed: 9), c = MachineSimulator(style: .xp, seed: 10)
        #expect(a.file(rows: 50, machine: "press-01") == b.file(rows: 50, machine: "press-01"))
        #expect(a.file(rows: 50, machine: "press-01") != c.file(rows: 50, machine: "press-01"))
        // XP style: Windows-1252 (ã is one byte 0xE3), ';', decimal comma, dd/MM/yyyy, CRLF.
        let text = a.file(rows: 2, machine: "press-01")
        #expect(text.contains(0xE3))
        let line = String(decoding: a.row(0, machine: "press-01"), as: UTF8.self)
        #expect(line.hasPrefix("01/01/2025 03:00:00;press-01;"))
        #expect(line.hasSuffix("\r\n"))
        #expect(line.split(separator: ";")[2].contains(","))
        let dir = NSTemporaryDirectory() + "sluice-sim-\(UUID().uuidString.prefix(8))"
        let path = dir + "/press-01/log.txt"
        try a.write(path: path, machine: "press-01", totalRows: 10, mode: .rewrite)
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(try a.write(path: path, machine: "press-01", totalRows: 13, mode: .rewrite) == 3)
        let second = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(second.starts(with: first))
        #expect(try MachineSimulator.countRows(path: path) == 13)
    }

    /// The `plant` style: nine columns, empty fields for NULLs, and Europe/Berlin wall-clock
    /// times with milliseconds on both sides of the spring and autumn changes (checked against
    /// Foundation's own zone data).
    @Test func plantRowsHaveNineColumnsNullsAndBerlinTimes() throws {
        var sim = MachineSimulator(style: .plant, seed: 3)
        #expect(String(decoding: sim.header, as: UTF8.self) == "timestamp,machine,temperature,pressure,speed,status,operator,count,batch\n")
        let zone = try #require(TimeZone(identifier: MachineSimulator.plantZone))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var empty = [Int](repeating: 0, count: 9)
        // Around 2025-03-30 01:00 UTC and 2025-10-26 01:00 UTC, and elsewhere in the year.
        for start: Int64 in [1_743_296_400 - 7200, 1_761_440_400 - 7200, 1_735_700_400, 1_751_328_000] {
            sim.start = start
            sim.interval = 97
            for k in 0..<150 {
                let fields = String(decoding: sim.row(k, machine: "line-01"), as: UTF8.self).dropLast().split(separator: ",", omittingEmptySubsequences: false)
                #expect(fields.count == 9)
                for (i, f) in fields.enumerated() where f.isEmpty { empty[i] += 1 }
                let t = Date(timeIntervalSince1970: TimeInterval(start + Int64(k) * 97))
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: t)
                let wall = String(format: "%04d-%02d-%02d %02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
                #expect(fields[0].hasPrefix(wall + "."), "row \(k) from \(start): \(fields[0]), Foundation says \(wall)")
                #expect(fields[0].count == 23)
            }
        }
        // NULLs in temperature, speed, operator and batch only.
        #expect(empty[0] == 0 && empty[1] == 0 && empty[3] == 0 && empty[5] == 0 && empty[7] == 0)
        #expect(empty[2] > 0 && empty[4] > 0 && empty[6] > 0 && empty[8] > 0, "\(empty)")
    }
}
