import CMosquitto

/// Topic name and filter checks, done before anything reaches libmosquitto so that callers get
/// a sentence instead of `MOSQ_ERR_INVAL`.
public enum MQTTTopic {
    /// Throws ``MQTTClientError/invalidTopic(_:detail:)`` unless `topic` can be published to.
    public static func validateTopicName(_ topic: String) throws(MQTTClientError) {
        if let problem = commonProblem(topic) { throw .invalidTopic(topic, detail: problem) }
        if topic.contains("+") || topic.contains("#") {
            throw .invalidTopic(topic, detail: "wildcards (+ and #) are only allowed in subscriptions")
        }
        if mosquitto_pub_topic_check2(topic, topic.utf8.count) != MOSQ_ERR_SUCCESS.rawValue {
            throw .invalidTopic(topic, detail: "libmosquitto rejects it as a topic name")
        }
    }

    /// Throws ``MQTTClientError/invalidTopicFilter(_:detail:)`` unless `filter` can be subscribed to.
    public static func validateTopicFilter(_ filter: String) throws(MQTTClientError) {
        if let problem = commonProblem(filter) { throw .invalidTopicFilter(filter, detail: problem) }
        if mosquitto_sub_topic_check2(filter, filter.utf8.count) != MOSQ_ERR_SUCCESS.rawValue {
            throw .invalidTopicFilter(filter, detail: "+ must fill a whole level and # must be the last level")
        }
    }

    /// Whether `topic` matches the subscription `filter` (MQTT wildcard rules).
    public static func matches(filter: String, topic: String) -> Bool {
        var result = false
        return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS.rawValue && result
    }

    private static func commonProblem(_ text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.count > 65_535 { return "it is longer than 65535 bytes" }
        if text.utf8.contains(0) { return "it contains a NUL character" }
        return nil
    }
}
