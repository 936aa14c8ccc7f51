import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// The helper process's side (`sluice smb-helper`): one SMB client for one share, driven by
/// requests on standard input, answered on standard output. It ends at the end of its input
/// (the daemon closed the pipe or died) and ignores SIGINT (Ctrl-C on the daemon's terminal
/// reaches the whole process group; the daemon decides when helpers end).
public enum SMBHelperServer {
    public static func serve(input: Int32 = 0, output: Int32 = 1, logger: Logger) async -> Int32 {
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        return await SMBHelperLoop().serve(input: input, output: output, logger: logger)
    }
}

/// The request loop runs on the SMB thread itself: each call into `SMBClient` (an actor on that
/// thread) then runs at once instead of switching threads twice per request. The blocking pipe
/// reads hold up nothing else: this process serves one share.
private actor SMBHelperLoop {
    nonisolated var unownedExecutor: UnownedSerialExecutor { SMBThread.executor.asUnownedSerialExecutor() }

    func serve(input: Int32, output: Int32, logger: Logger) async -> Int32 {
        var client: SMBClient?
        var readAhead = SMBReadAhead()
        while true {
            let request: SMBHelperProtocol.Request
            do { request = try SMBHelperProtocol.readFrame(SMBHelperProtocol.Request.self, from: input, deadline: nil) } catch {
                if case .closed = error { return 0 }
                logger.error("smb helper: bad request: \(error)")
                return 2
            }
            var response = SMBHelperProtocol.Response()
            var payload: [UInt8] = []
            do {
                switch request.op {
                case .open:
                    let endpoint = try SMBEndpoint(url: request.url)
                    let protocols = request.protocols.isEmpty ? SMBProtocolRange.modern : try SMBProtocolRange(setting: request.protocols)
                    let login = SMBLogin(user: request.user, domain: request.domain, password: Secret(request.password))
                    var log = logger
                    log[metadataKey: "share"] = "\(endpoint)"
                    client = SMBClient(endpoint: endpoint, protocols: protocols, login: login, guest: request.guest,
                                       encryption: SMBEncryption(rawValue: request.encryption) ?? .auto, timeoutSeconds: request.timeout, logger: log)
                    readAhead = SMBReadAhead()
                case .list:
                    let entries = try await Self.opened(client).list(request.path)
                    readAhead.listed(request.path, entries)
                    response.entries = entries.map(Self.entry)
                case .stat:
                    let found = try await Self.opened(client).stat(request.path)
                    readAhead.statted(request.path, found)
                    response.entry = found.map(Self.entry)
                case .read:
                    payload = try await readAhead.read(request.path, offset: request.offset, length: request.length, from: try Self.opened(client))
                    response.payload = payload.count
                case .finishReading:
                    readAhead.forget(request.path)
                    await (try Self.opened(client)).finishReading(request.path)
                case .remove:
                    readAhead.forget(request.path)
                    try await Self.opened(client).remove(request.path)
                case .move:
                    readAhead.forget(request.path)
                    try await Self.opened(client).move(request.path, intoDirectory: request.directory)
                case .endRun:
                    readAhead.forget(nil)
                    await (try Self.opened(client)).endRun()
                }
            } catch let e as SMBError {
                response.error = SMBHelperProtocol.Failure(kind: SMBHelperProtocol.errorKindName(e.kind), share: e.share, path: e.path, code: e.code, message: e.message)
            } catch let e as ConfigIssue {
                response.error = SMBHelperProtocol.Failure(kind: "other", share: request.url, path: "", code: 0, message: e.message)
            } catch {
                response.error = SMBHelperProtocol.Failure(kind: "other", share: request.url, path: request.path, code: 0, message: "\(error)")
            }
            if let client { response.bytesRead = await client.bytesRead }
            do { try SMBHelperProtocol.writeFrame(output, response, payload: payload) } catch { return 0 }
            // While the daemon takes in this answer, fetch what it will ask for next.
            if request.op == .read, response.error == nil, let client { await readAhead.readAhead(from: client) }
        }
    }

    private static func opened(_ client: SMBClient?) throws -> SMBClient {
        guard let client else { throw SMBError(kind: .other, share: "", path: "", code: 0, message: "the helper got a request before open") }
        return client
    }

    private static func entry(_ e: RemoteEntry) -> SMBHelperProtocol.Entry {
        SMBHelperProtocol.Entry(name: e.name, kind: SMBHelperProtocol.kindName(e.kind), size: e.size, modified: e.modified)
    }
}
