import FoglineCloud
import FoglineCore
import Testing

@Suite("Cloud writer")
struct CloudWriterTests {
    @Test("concurrent desired writes of one instance take consecutive dots of its writer and all survive")
    func concurrentWrites() async throws {
        let store = InMemoryCloudStore()
        let writer = CloudWriter(instance: "w-1", store: store)
        #expect(writer.name == "cloud.w-1")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { _ = try await writer.setDesired(site: "plant-1", device: "d", fields: [("f\(index)", .number(Double(index)))]) }
            }
            try await group.waitForAll()
        }
        let summary = try await store.summary(site: "plant-1")
        #expect(summary.context.contiguousMaximum(of: writer.node) == 20)
        let view = try await store.view(site: "plant-1")
        #expect(view.desired.fields(of: "d").count == 20)
        #expect(Set(view.desired.fields(of: "d").map(\.stamp)).count == 20, "every write has its own HLC stamp")
    }

    @Test("two instances are two writers: their writes to one field resolve by HLC, both dots kept")
    func twoInstances() async throws {
        let store = InMemoryCloudStore()
        let one = CloudWriter(instance: "a", store: store)
        let two = CloudWriter(instance: "b", store: store)
        _ = try await one.setDesired(site: "s", device: "d", fields: [("mode", .string("eco"))])
        let first = try #require(try await store.view(site: "s").desired.field("mode", of: "d"))
        _ = try await two.setDesired(site: "s", device: "d", fields: [("mode", .string("boost"))], observed: [first.stamp])
        let view = try await store.view(site: "s")
        #expect(view.desired.value("mode", of: "d") == .string("boost"), "a write that observed the value wins over it")
        #expect(view.context.contiguousMaximum(of: one.node) == 1 && view.context.contiguousMaximum(of: two.node) == 1)
    }
}
