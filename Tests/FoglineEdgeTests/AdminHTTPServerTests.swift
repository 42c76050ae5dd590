import FoglineEdge
import FoglineTesting
import Testing

@Suite("Admin HTTP server")
struct AdminHTTPServerTests {
    @Test("serves requests with bodies, status codes and content length; caps large bodies")
    func serves() async throws {
        let server = try await AdminHTTPServer(host: "127.0.0.1", port: 0)
        let serving = Task {
            try await server.run { request in
                if request.path == "/echo" {
                    return AdminResponse(status: 201, contentType: "text/plain", body: Array("\(request.method) ".utf8) + request.body)
                }
                return .error(404, "no route \(request.path)")
            }
        }
        defer { serving.cancel() }
        let port = server.port
        let echoed = try await Task.detached {
            try HTTPTestClient.request(port: port, method: "POST", path: "/echo", body: Array("hello".utf8))
        }.value
        #expect(echoed.status == 201 && echoed.text == "POST hello" && echoed.headers["content-length"] == "10")
        let missing = try await Task.detached { try HTTPTestClient.request(port: port, method: "GET", path: "/nope") }.value
        #expect(missing.status == 404 && missing.text.contains("no route /nope"))
        let huge = try await Task.detached {
            try HTTPTestClient.request(port: port, method: "PUT", path: "/echo", body: [UInt8](repeating: 65, count: AdminHTTPServer.maxBodyBytes + 1))
        }.value
        #expect(huge.status == 413)
        await server.close()
    }
}
