import FoglineCloud
import Testing

@Suite("Cloud store contract")
struct CloudStoreContractTests {
    @Test("an audit append error names the node, the entry and the reason")
    func auditErrorText() {
        let error = AuditAppendError(site: "plant_1", node: "edge-a", index: 7, reason: "its previous hash does not match entry 6")
        #expect(error.description == "audit entry 7 of node edge-a (site plant_1) was not stored: its previous hash does not match entry 6")
    }
}
