import ConnectorKit
@testable import Connectors
@testable import SMBConnector
import Foundation
import Testing
import TestSupport

/// In-process SMB reads a run's chunks in blocks, on the `smb3` Samba: the bytes are the file's,
/// a quarter of the requests go to the share, it reads nothing a run would not ask for, and it
/// never serves a file rewritten between runs from the block it held.
@Suite(.blockingWork, .enabled(if: TestSamba.enabled, "no Samba on 127.0.0.1:4451/4453: run scripts/smb-start.sh (under CI this suite always runs)"))
struct SMBReadBlocksTests {
    static let chunk = 256 << 10

    static func client(_ url: String) throws -> SMBClient {
        try TestSamba.source(TestSamba.configuration(url)).fileSystem.client
    }

    /// What a run asks for: the fingerprints of the head and of the window before `from`, then
    /// chunks from `from` to the listed size.
    static func runReads(_ client: SMBClient, file: String, size: Int, from: Int) async throws -> [UInt8] {
        if from > 0 {
            _ = try await client.read(file, offset: 0, length: 1024)
            _ = try await client.read(file, offset: Int64(from - 4096), length: 4096)
        }
        var out: [UInt8] = []
        var offset = from
        while offset < size {
            let bytes = try await client.read(file, offset: Int64(offset), length: min(chunk, size - offset))
            if bytes.isEmpty { break }
            out += bytes
            offset += bytes.count
        }
        return out
    }

    @Test func aRunsChunksComeFromBlocksWithTheFilesBytesAndNothingMore() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let content = SMBReadAheadTests.randomBytes(3 << 20 + 12_345, seed: 17)
        try Data(content).write(to: URL(fileURLWithPath: "\(local)/f.bin"))
        let client = try Self.client(url)
        _ = try await client.list("")

        let whole = try await Self.runReads(client, file: "f.bin", size: content.count, from: 0)
        let sameBytes = whole == content  // one Bool: a failing #expect on megabyte arrays would diff them
        #expect(sameBytes, "\(whole.count) bytes read, not the file's \(content.count)")
        #expect(await client.bytesRead == Int64(content.count), "read from the share beyond what the run asked for")
        let shareReads = await client.shareReads
        #expect(shareReads == 4, "13 chunks of 256 KiB in 1 MiB blocks: \(shareReads) reads")

        // The file grows; the next run lists it, checks the fingerprints and reads only the new bytes.
        let added = SMBReadAheadTests.randomBytes(600_000, seed: 18)
        try SMBReadAheadTests.append(added, to: "\(local)/f.bin")
        await client.endRun()
        _ = try await client.list("")
        // Written after the listing: this run does not read it, nor may a block.
        try SMBReadAheadTests.append(SMBReadAheadTests.randomBytes(2 << 20, seed: 19), to: "\(local)/f.bin")
        let before = await client.bytesRead
        let tail = try await Self.runReads(client, file: "f.bin", size: content.count + added.count, from: content.count)
        let sameTail = tail == added
        #expect(sameTail, "\(tail.count) bytes read, not the \(added.count) appended")
        #expect(await client.bytesRead - before == Int64(added.count + 1024 + 4096), "the fingerprints and the bytes listed, nothing written after the listing")
    }

    @Test func aFileRewrittenBetweenRunsIsNeverServedFromTheBlockHeld() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let first = SMBReadAheadTests.randomBytes(2 << 20, seed: 11), second = SMBReadAheadTests.randomBytes(2 << 20, seed: 12)
        try Data(first).write(to: URL(fileURLWithPath: "\(local)/log.csv"))
        let client = try Self.client(url)
        _ = try await client.list("")
        // A chunk read, and a block of 1 MiB held when the run stops.
        _ = try await client.read("log.csv", offset: 0, length: Self.chunk)
        #expect(await client.bytesRead == Int64(1 << 20))

        try Data(second).write(to: URL(fileURLWithPath: "\(local)/log.csv"))
        await client.endRun()
        _ = try await client.list("")
        let again = try await client.read("log.csv", offset: Int64(Self.chunk), length: Self.chunk)
        let rewritten = again == Array(second[Self.chunk..<(2 * Self.chunk)])
        let stale = again == Array(first[Self.chunk..<(2 * Self.chunk)])
        #expect(rewritten && !stale, "served the file as it was before it was rewritten: \(stale)")

        // A stat (a run checking the file again) drops the block too.
        try Data(first).write(to: URL(fileURLWithPath: "\(local)/log.csv"))
        _ = try await client.stat("log.csv")
        let third = try await client.read("log.csv", offset: Int64(2 * Self.chunk), length: Self.chunk)
        let fresh = third == Array(first[(2 * Self.chunk)..<(3 * Self.chunk)])
        #expect(fresh, "served from the block held before the stat")

        // A small fingerprint read goes to the share as it is.
        let held = await client.bytesRead
        _ = try await client.read("log.csv", offset: 0, length: 1024)
        #expect(await client.bytesRead - held == 1024)
    }
}
