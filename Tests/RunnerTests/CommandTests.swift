import Foundation
import MachineSimulator
import Testing
import TestSupport

@Suite(.blockingWork, .serialized) struct CommandTests {
    @Test func validateReportsEveryErrorWithFileLineAndKeyAndExitsOne() throws {
        let dir = try Sluice.tempDir("validate")
        try Sluice.write("""
            [source]
            type = "filez"
            path = "x"
            [[transform]]
            type = "csv"
            [sink]
            type = "jsonl"
            path = "o.jsonl"
            """, to: "\(dir)/a.toml")
        try Sluice.write("""
            [source]
            type = "files"
            path = "x"
            glob = 7
            [[transform]]
            type = "csv"
            delimitr = ";"
            [sink]
            type = "jsonl"
            path = "${SLUICE_TEST_UNSET_VAR}"
            """, to: "\(dir)/b.toml")
        let r = try Sluice.run(["validate", "--config-dir", dir])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(dir)/a.toml:2: source.type: unknown source type 'filez'; did you mean 'files'?"))
        #expect(r.stderr.contains("\(dir)/b.toml:4: source.glob: expected a string, found an integer 7"))
        #expect(r.stderr.contains("\(dir)/b.toml:7: transform[0].delimitr: unknown key 'delimitr'; did you mean 'delimiter'?"))
        #expect(r.stderr.contains("\(dir)/b.toml:10: sink.path: environment variable SLUICE_TEST_UNSET_VAR is not set"))
    }

    /// `sluice cat` prints a file as the source reads it, byte for byte (CRLF, `;`, a last line
    /// without its end); only files the source lists: another name, or one that climbs out of the
    /// folder, is an error naming what there is.
    @Test func catPrintsAFileAsTheSourceReadsIt() throws {
        let dir = try Sluice.tempDir("cat")
        var text = "Data;Hora;Temp\r\n"
        for i in 0..<30_000 { text += "0\(i % 9 + 1)/11/2026;12:\(i % 60):00;\(i % 50),\(i % 10)\r\n" }
        text += "01/12/2026;00:00:00;1,5"  // still being written
        try Sluice.write(text, to: "\(dir)/in/press-01/log.txt")
        try Sluice.write("secret\n", to: "\(dir)/outside.txt")
        try Sluice.write("""
            [source]
            type = "files"
            path = "\(dir)/in"
            glob = "**/*.txt"
            [[transform]]
            type = "csv"
            delimiter = ";"
            [sink]
            type = "jsonl"
            path = "\(dir)/out.jsonl"
            """, to: "\(dir)/conf/press.toml")
        let r = try Sluice.run(["cat", "press", "press-01/log.txt", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == text)
        for other in ["press-02/log.txt", "../outside.txt"] {
            let miss = try Sluice.run(["cat", "press", other, "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
            #expect(miss.status == 1)
            #expect(miss.stderr.contains("has no file '\(other)'; it has: press-01/log.txt"), "\(miss.stderr)")
            #expect(miss.stdout.isEmpty)
        }
    }

    /// Files that hold raw rows stay private: the state folder, a pipeline's folder, its
    /// checkpoint, its dead letters and the JSON-lines output are created for the owner only,
    /// whatever the umask.
    @Test func stateCheckpointsDeadLettersAndOutputsAreCreatedPrivate() throws {
        let dir = try Sluice.tempDir("private")
        try Sluice.write("a,b\n1,x\nnot-a-number,y\n", to: "\(dir)/in/m.csv")
        try Sluice.write("""
            [source]
            type = "files"
            path = "\(dir)/in"
            glob = "*.csv"
            settle = "0s"
            [[transform]]
            type = "csv"
            [[transform]]
            type = "schema"
            [transform.columns]
            a = "int64"
            b = "string"
            [sink]
            type = "jsonl"
            path = "\(dir)/out/rows.jsonl"
            """, to: "\(dir)/conf/p.toml")
        let previous = umask(0o022)
        defer { umask(previous) }
        let r = try Sluice.run(["once", "p", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1 records written, 1 dead letters"), "\(r.stdout)")
        func mode(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1 }
        for folder in ["\(dir)/state", "\(dir)/state/p", "\(dir)/out"] {
            #expect(mode(folder) == 0o700, "\(folder) is \(String(mode(folder), radix: 8))")
        }
        for file in ["\(dir)/state/p/checkpoint.json", "\(dir)/state/p/dead-letter.jsonl", "\(dir)/out/rows.jsonl"] {
            #expect(mode(file) == 0o600, "\(file) is \(String(mode(file), radix: 8))")
        }
    }

    @Test func shippedConfigurationValidatesAndLists() throws {
        let r = try Sluice.run(["validate", "--config-dir", "\(Sluice.root)/connectors.d"])
        #expect(r.status == 0, "\(r.stderr)")
        let l = try Sluice.run(["list", "--config-dir", "\(Sluice.root)/connectors.d"])
        #expect(l.stdout.contains("xp-press"))
        #expect(l.stdout.contains("smb → csv → schema → postgres"))
        #expect(l.stdout.contains("partition-maintenance"))
        #expect(l.stdout.contains("cron 30 23 * * *"))
        let s = try Sluice.run(["sample", "csv"])
        #expect(s.stdout.contains("type = \"csv\""))
    }

    /// Hostile inputs: each gives dead letters or one clear error naming the file; good rows land.
    @Test func hostileCorpus() throws {
        let dir = try Sluice.tempDir("hostile")
        let input = "\(dir)/in"
        let header = "ts;machine;temp\r\n"
        func put(_ name: String, _ bytes: [UInt8]) throws {
            try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: "\(input)/\(name)", contents: Data(bytes))
        }
        let good = "01/02/2025 10:00:00;p1;20,5\r\n"
        try put("good.csv", Array((header + good + good).utf8))
        try put("invalid-bytes.csv", Array((header + good).utf8) + Array("01/02/2025 10:00:01;p".utf8) + [0x81, 0x81] + Array(";1,0\r\n".utf8))
        try put("unterminated.csv", Array((header + good + "01/02/2025 10:00:02;\"p1;1,0\r\n").utf8))
        try put("ragged.csv", Array((header + good + "01/02/2025;p1\r\n01/02/2025 10:00:00;p1;1;2;3\r\n").utf8))
        try put("nul.csv", Array((header + good).utf8) + Array("01/02/2025 10:00:00;p".utf8) + [0, 0] + Array(";1\r\n".utf8))
        try put("long-line.csv", Array((header + good).utf8) + [UInt8](repeating: 65, count: 10 << 20) + [0x0D, 0x0A] + Array(good.utf8))
        var rng = SystemRandomNumberGenerator()
        try put("binary-junk.csv", (0..<65536).map { _ in UInt8.random(in: 0...255, using: &rng) })
        try put("empty.csv", [])
        try put("wrong-header.csv", Array(("when;who;what\r\n" + good).utf8))
        try put("bad-values.csv", Array((header + good + "32/13/2025 10:00:00;p1;abc\r\n").utf8))
        try Sluice.write("""
            [source]
            type = "files"
            path = "in"
            glob = "*.csv"
            settle = "0s"
            after_load = "move"
            move_to = "done"
            [[transform]]
            type = "csv"
            delimiter = ";"
            encoding = "windows-1252"
            [[transform]]
            type = "schema"
            decimal_separator = ","
            [transform.columns]
            ts = { type = "timestamp", format = "dd/MM/yyyy HH:mm:ss" }
            machine = "string"
            temp = "float64"
            [transform.derive]
            file = "file"
            [sink]
            type = "jsonl"
            path = "out.jsonl"
            """, to: "\(dir)/conf/hostile.toml")
        // Relative paths in a pipeline file are relative to its folder.
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/conf/in", withDestinationPath: input)
        let r = try Sluice.run(["once", "hostile", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = Sluice.lines("\(dir)/conf/out.jsonl")
        // Good rows: good 2, invalid-bytes 1, unterminated 1, ragged 1, nul 1, long-line 2, bad-values 1.
        #expect(out.count == 9, "\(out)")
        let dead = Sluice.lines("\(dir)/state/hostile/dead-letter.jsonl").map(String.init)
        func deadFor(_ file: String) -> [String] { dead.filter { $0.contains("\"file\":\"\(file)\"") } }
        #expect(deadFor("invalid-bytes.csv").first?.contains("not defined in windows-1252") == true)
        #expect(deadFor("unterminated.csv").first?.contains("unterminated quoted field at end of file") == true)
        #expect(deadFor("ragged.csv").count == 2)
        #expect(deadFor("nul.csv").first?.contains("NUL byte") == true)
        #expect(deadFor("long-line.csv").first?.contains("max_record_bytes") == true)
        #expect(deadFor("long-line.csv").first?.contains("\"line\":3") == true)
        #expect(!deadFor("binary-junk.csv").isEmpty)
        #expect(deadFor("wrong-header.csv").first?.contains("column 'ts' declared in the schema is not in the input (input columns: when, who, what)") == true)
        #expect(deadFor("bad-values.csv").first?.contains("column 'ts': cannot read '32/13/2025 10:00:00'") == true)
        #expect(deadFor("bad-values.csv").first?.contains("\"byte_offset\":") == true)
        #expect(deadFor("empty.csv").isEmpty)
        // Every file was loaded to its end and moved.
        let done = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/conf/done")
        #expect(done.count == 10)
        // A second run finds nothing and repeats nothing.
        let again = try Sluice.run(["once", "hostile", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        #expect(again.status == 0)
        #expect(Sluice.lines("\(dir)/conf/out.jsonl").count == 9)
        #expect(Sluice.lines("\(dir)/state/hostile/dead-letter.jsonl").count == dead.count)
    }
}
