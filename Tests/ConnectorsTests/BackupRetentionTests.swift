import Connectors
import Foundation
import Testing
import TestSupport

@Suite(.blockingWork) struct BackupRetentionTests {
    static let day = 86_400.0

    /// 120 nightly dumps at 02:00 UTC from 2026-08-03 to 2026-11-30, plus a second one on the
    /// last day: 7 daily keeps the newest of the last 7 days; 4 monthly adds the newest of
    /// August, September and October (November's newest is already kept).
    @Test func keepsNewestOfRecentDaysAndMonths() {
        let last = ISO8601DateFormatter().date(from: "2026-11-30T02:00:00Z")!
        var dumps = (0..<120).map { i -> BackupRetention.Dump in
            let t = last.addingTimeInterval(-Double(i) * Self.day)
            return BackupRetention.Dump(file: BackupRetention.fileName(label: "plant", taken: t), taken: t)
        }
        let extra = last.addingTimeInterval(3600)
        dumps.append(BackupRetention.Dump(file: BackupRetention.fileName(label: "plant", taken: extra), taken: extra))
        let kept = BackupRetention.keep(dumps, daily: 7, monthly: 4).sorted()
        #expect(kept == [
            "plant-20260831T020000Z.dump", "plant-20260930T020000Z.dump", "plant-20261031T020000Z.dump",
            "plant-20261124T020000Z.dump", "plant-20261125T020000Z.dump", "plant-20261126T020000Z.dump", "plant-20261127T020000Z.dump",
            "plant-20261128T020000Z.dump", "plant-20261129T020000Z.dump", "plant-20261130T030000Z.dump",
        ], "\(kept)")
        #expect(BackupRetention.keep(dumps, daily: 1, monthly: 0) == ["plant-20261130T030000Z.dump"])
    }

    @Test func namesRoundTripAndForeignFilesAreIgnored() {
        let t = ISO8601DateFormatter().date(from: "2026-03-29T01:30:05Z")!
        let name = BackupRetention.fileName(label: "plant", taken: t)
        #expect(name == "plant-20260329T013005Z.dump")
        #expect(BackupRetention.parse(name, label: "plant") == t)
        for other in ["plant-20260329T013005Z.dump.inprogress", "plantx-20260329T013005Z.dump", "plant-2026.dump", "notes.txt", "plant-latest.dump"] {
            #expect(BackupRetention.parse(other, label: "plant") == nil, "\(other)")
        }
    }

    @Test func byteCounts() {
        #expect(ByteCount(parsing: "2GiB")?.bytes == 2 << 30)
        #expect(ByteCount(parsing: "10GB")?.bytes == 10_000_000_000)
        #expect(ByteCount(parsing: "512 MiB")?.bytes == 512 << 20)
        #expect(ByteCount(parsing: "4096")?.bytes == 4096)
        for bad in ["", "GiB", "-1GiB", "2 potatoes", "1e30TiB"] { #expect(ByteCount(parsing: bad) == nil, "\(bad)") }
    }
}
