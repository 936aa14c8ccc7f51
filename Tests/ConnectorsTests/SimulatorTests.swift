import Foundation
import MachineSimulator
import Testing

@Suite struct SimulatorTests {
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
}
