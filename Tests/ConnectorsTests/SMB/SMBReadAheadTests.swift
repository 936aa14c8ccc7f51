import ConnectorKit
@testable import Connectors
@testable import SMBConnector
import Foundation
import Testing
import TestSupport

/// The SMB helper's read-ahead, in front of a real libsmbclient client on the `smb3` Samba: the
/// bytes are the file's, it reads nothing a run would not ask for, and it never serves a file
/// rewritten between runs from what it held.
@Suite(.blockingWork, .enabled(if: TestSamba.enabled, "no Samba on 127.0.0.1:4451/4453: run scripts/smb-start.sh (under CI this suite always runs)"))
struct SMBReadAheadTests {
    /// A client as the helper makes it: every read goes to the share as asked.
    static func client(_ url: String) throws -> SMBClient {
        try TestSamba.configuration(url).makeSource(context: testBuildContext, readBlockSize: 0).fileSystem.client
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func append(_ bytes: [UInt8], to path: String) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    /// What a run asks for: the fingerprint of the head and of the window before `from`, then
    /// chunks from `from` to the listed size.
    static func runReads(_ ahead: inout SMBReadAhead, _ client: SMBClient, file: String, size: Int, from: Int, chunk: Int) async throws -> [UInt8] {
        if from > 0 {
            _ = try await ahead.read(file, offset: 0, length: 1024, from: client)
            _ = try await ahead.read(file, offset: Int64(from - 4096), length: 4096, from: client)
        }
        var out: [UInt8] = []
        var offset = from
        while offset < size {
            let bytes = try await ahead.read(file, offset: Int64(offset), length: min(chunk, size - offset), from: client)
            if bytes.isEmpty { break }
            out += bytes
            offset += bytes.count
            await ahead.readAhead(from: client)
        }
        return out
    }

    @Test func servesTheFilesBytesAheadAndReadsNothingARunWouldNotAskFor() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let content = Self.randomBytes(3 << 20 + 12_345, seed: 7)
        try Data(content).write(to: URL(fileURLWithPath: "\(local)/f.bin"))
        let client = try Self.client(url)
        var ahead = SMBReadAhead()
        ahead.listed("", try await client.list(""))

        let whole = try await Self.runReads(&ahead, client, file: "f.bin", size: content.count, from: 0, chunk: 256 << 10)
        // Compared as one Bool: a failing #expect on megabyte arrays would diff them element by element.
        let sameBytes = whole == content
        #expect(sameBytes, "\(whole.count) bytes read, not the file's \(content.count)")
        #expect(await client.bytesRead == Int64(content.count), "read from the share beyond what the run asked for")
        #expect(ahead.servedFromAhead >= Int64(content.count - (256 << 10)), "only \(ahead.servedFromAhead) bytes came from the read-ahead")

        // The file grows; the next run lists it, checks the fingerprints and reads only the new bytes.
        let added = Self.randomBytes(600_000, seed: 8)
        try SMBReadAheadTests.append(added, to: "\(local)/f.bin")
        ahead.forget(nil)
        ahead.listed("", try await client.list(""))
        // Written after the listing: this run does not read it, nor may its read-ahead.
        try SMBReadAheadTests.append(Self.randomBytes(2 << 20, seed: 9), to: "\(local)/f.bin")
        let before = await client.bytesRead
        let tail = try await Self.runReads(&ahead, client, file: "f.bin", size: content.count + added.count, from: content.count, chunk: 256 << 10)
        let sameTail = tail == added
        #expect(sameTail, "\(tail.count) bytes read, not the \(added.count) appended")
        #expect(await client.bytesRead - before == Int64(added.count + 1024 + 4096), "the fingerprints and the bytes listed, nothing written after the listing")
    }

    @Test func aFileRewrittenBetweenRunsIsNeverServedFromWhatWasHeld() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let first = Self.randomBytes(2 << 20, seed: 1), second = Self.randomBytes(2 << 20, seed: 2)
        try Data(first).write(to: URL(fileURLWithPath: "\(local)/log.csv"))
        let client = try Self.client(url)
        var ahead = SMBReadAhead()
        ahead.listed("", try await client.list(""))
        // Half the file, with a block read ahead and held when the run stops.
        _ = try await ahead.read("log.csv", offset: 0, length: 256 << 10, from: client)
        await ahead.readAhead(from: client)
        #expect(await client.bytesRead == Int64(256 << 10) + Int64(1 << 20))

        try Data(second).write(to: URL(fileURLWithPath: "\(local)/log.csv"))
        ahead.forget(nil)
        ahead.listed("", try await client.list(""))
        let again = try await ahead.read("log.csv", offset: 256 << 10, length: 256 << 10, from: client)
        let rewritten = again == Array(second[(256 << 10)..<(512 << 10)])
        let stale = again == Array(first[(256 << 10)..<(512 << 10)])
        #expect(rewritten && !stale, "served the file as it was before it was rewritten: \(stale)")

        // A small fingerprint read is never followed by a read ahead.
        let held = await client.bytesRead
        _ = try await ahead.read("log.csv", offset: 0, length: 1024, from: client)
        await ahead.readAhead(from: client)
        #expect(await client.bytesRead - held == 1024)
    }
}
