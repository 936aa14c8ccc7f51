#if canImport(Glibc)
import Glibc
#endif
import ConnectorKit
@testable import Connectors
@testable import SMBConnector
import Foundation
import Testing
import TestSupport

/// A large file read in-process over SMB3 goes over two connections (the source's and a forked
/// child's, `SMBSecondReads`), on the `smb3` Samba: the bytes are the file's whatever happens to
/// the child, the child reads about half of them, never serves what a listing made stale, and
/// lets go of the file before it is moved.
@Suite(.blockingWork, .enabled(if: TestSamba.enabled, "no Samba on 127.0.0.1:4451/4453: run scripts/smb-start.sh (under CI this suite always runs)"))
struct SMBSecondConnectionTests {
    static let size = 24 << 20 + 12_345

    static func client(_ url: String, second: Bool = true) throws -> SMBClient {
        try TestSamba.source(TestSamba.configuration(url) { $0.secondConnection = second }).fileSystem.client
    }

    static func largeFile(seed: UInt64) throws -> (local: String, url: String, content: [UInt8]) {
        let (local, url) = try TestSamba.folder("smb3")
        let content = SMBReadAheadTests.randomBytes(size, seed: seed)
        try Data(content).write(to: URL(fileURLWithPath: "\(local)/big.bin"))
        return (local, url, content)
    }

    /// A large file in a folder of its own on the share, and a client that has listed it; the
    /// folder is removed afterwards.
    static func withListedLargeFile(seed: UInt64, second: Bool = true,
                                    _ body: (_ local: String, _ client: SMBClient, _ content: [UInt8]) async throws -> Void) async throws {
        let (local, url, content) = try largeFile(seed: seed)
        defer { try? FileManager.default.removeItem(atPath: local) }
        let client = try client(url, second: second)
        _ = try await client.list("")
        try await body(local, client, content)
    }

    @Test func aLargeFileIsReadOverTwoConnectionsWithItsBytesExactly() async throws {
        try await Self.withListedLargeFile(seed: 41) { _, client, content in
            let whole = try await SMBReadBlocksTests.runReads(client, file: "big.bin", size: content.count, from: 0)
            let same = whole == content  // one Bool: a failing #expect on megabyte arrays would diff them
            #expect(same, "\(whole.count) bytes read, not the file's \(content.count)")
            let second = await client.secondConnectionSummary
            #expect(!second.failed)
            // Every other 1 MiB block of the 25: blocks 1, 3, … 23, and no more than the file from the
            // share all told.
            #expect(second.reads >= 10 && second.reads <= 13, "\(second.reads) blocks read by the second connection")
            #expect(second.asks == second.reads, "\(second.asks) blocks asked of the second connection, \(second.reads) used")
            #expect(second.bytesRead >= Int64(content.count) * 2 / 5 && second.bytesRead <= Int64(content.count) * 3 / 5,
                    "the second connection read \(second.bytesRead) of \(content.count) bytes")
            #expect(await client.bytesRead == Int64(content.count), "read from the share beyond the file")
        }
    }

    @Test func withSecondConnectionOffOneConnectionReadsItAll() async throws {
        try await Self.withListedLargeFile(seed: 42, second: false) { _, client, content in
            let whole = try await SMBReadBlocksTests.runReads(client, file: "big.bin", size: content.count, from: 0)
            let same = whole == content
            #expect(same)
            let second = await client.secondConnectionSummary
            #expect(second.childProcessID == nil && second.reads == 0)
        }
    }

    @Test func aChildKilledMidFileLeavesTheSourceReadingTheRestItself() async throws {
        try await Self.withListedLargeFile(seed: 43) { _, client, content in
            var out: [UInt8] = []
            var killed: pid_t = 0
            while out.count < content.count {
                let bytes = try await client.read("big.bin", offset: Int64(out.count), length: min(SMBReadBlocksTests.chunk, content.count - out.count))
                if bytes.isEmpty { break }
                out += bytes
                if killed == 0, out.count >= 6 << 20, let child = await client.secondConnectionSummary.childProcessID {
                    #expect(kill(child, SIGKILL) == 0)
                    killed = child
                }
            }
            let same = out == content
            #expect(same, "\(out.count) bytes read, not the file's \(content.count)")
            #expect(killed > 0, "the second connection never started")
            let second = await client.secondConnectionSummary
            #expect(second.failed && second.childProcessID == nil, "the source reads on with one connection after its child died")
            #expect(second.reads > 0)
            // The killed child was waited for: no zombie left behind.
            #expect(waitpid(killed, nil, WNOHANG) == -1 && errno == ECHILD)
        }
    }

    @Test func whatTheChildReadBeforeAListingIsNeverServedAfterIt() async throws {
        try await Self.withListedLargeFile(seed: 44) { local, client, content in
            // The first block read in chunks: the child is reading the second (the next read's), let it finish.
            var offset = 0
            while offset < 1 << 20 {
                offset += try await client.read("big.bin", offset: Int64(offset), length: SMBReadBlocksTests.chunk).count
            }
            #expect(await client.secondConnectionSummary.childProcessID != nil)
            try await Task.sleep(for: .milliseconds(500))
            // Rewritten in place, same size: only the bytes tell.
            let rewritten = SMBReadAheadTests.randomBytes(content.count, seed: 45)
            try Data(rewritten).write(to: URL(fileURLWithPath: "\(local)/big.bin"))
            _ = try await client.list("")
            let rest = try await SMBReadBlocksTests.runReads(client, file: "big.bin", size: content.count, from: offset)
            let fresh = rest == Array(rewritten[offset...])
            #expect(fresh, "bytes the second connection read before the listing were served after it")
        }
    }

    @Test func theChildLetsGoOfTheFileBeforeItIsMoved() async throws {
        try await Self.withListedLargeFile(seed: 46) { local, client, content in
            let whole = try await SMBReadBlocksTests.runReads(client, file: "big.bin", size: content.count, from: 0)
            #expect(whole.count == content.count)
            #expect(await client.secondConnectionSummary.reads > 0)
            // Samba refuses to rename a file another connection holds open (no delete sharing); the
            // move closes the child's handle first (as `finishReading` does).
            try await client.move("big.bin", intoDirectory: "done")
            #expect(FileManager.default.fileExists(atPath: "\(local)/done/big.bin"))
            #expect(!(await client.secondConnectionSummary.failed))
        }
    }
}
