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
        var client: SMBClient?
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
                case .list:
                    response.entries = try await opened(client).list(request.path).map(entry)
                case .stat:
                    response.entry = try await opened(client).stat(request.path).map(entry)
                case .read:
                    payload = try await opened(client).read(request.path, offset: request.offset, length: request.length)
                    response.payload = payload.count
                case .finishReading:
                    await (try opened(client)).finishReading(request.path)
                case .remove:
                    try await opened(client).remove(request.path)
                case .move:
                    try await opened(client).move(request.path, intoDirectory: request.directory)
                case .endRun:
                    await (try opened(client)).endRun()
                }
            } catch let e as SMBError {
                response.error = SMBHelperProtocol.Failure(kind: SMBHelperProtocol.errorKindName(e.kind), share: e.share, path: e.path, code: e.code, message: e.message)
            } catch let e as ConfigIssue {
                response.error = SMBHelperProtocol.Failure(kind: "other", share: request.url, path: "", code: 0, message: e.message)
            } catch {
                response.error = SMBHelperProtocol.Failure(kind: "other", share: request.url, path: request.path, code: 0, message: "\(error)")
            }
            if let client { response.bytesRead = await client.bytesRead }
            do { try SMBHelperProtocol.writeAll(output, SMBHelperProtocol.frame(response, payload: payload)) } catch { return 0 }
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
