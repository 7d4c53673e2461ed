// elasticache-local dashboard: refreshes the topology, follows the events
// stream, copies endpoints, and sends the few actions (reboot a node, test a
// failover) as Query API requests, the same the SDKs send.
(function () {
  "use strict";
  var topology = document.getElementById("topology");
  var feed = document.getElementById("events");
  var updated = document.getElementById("updated");
  var result = document.getElementById("action-result");
  var streamState = document.getElementById("stream-state");
  var busy = false;

  function refresh() {
    if (busy) return;
    busy = true;
    fetch("/_elasticache/dashboard/topology", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        topology.innerHTML = html;
        updated.textContent = new Date().toLocaleTimeString();
      })
      .catch(function () { updated.textContent = "backend not answering"; })
      .then(function () { busy = false; });
  }
  setInterval(refresh, 2000);

  function addEvent(e) {
    var li = document.createElement("li");
    li.dataset.seq = e.seq;
    var t = document.createElement("time");
    t.textContent = e.date;
    var src = document.createElement("span");
    src.className = "src";
    src.textContent = e.source_type + " " + e.source_id;
    li.appendChild(t);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(src);
    li.appendChild(document.createTextNode(" " + e.message));
    li.className = "new";
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 200) feed.removeChild(feed.lastChild);
  }

  if (window.EventSource) {
    var es = new EventSource("/_elasticache/events/stream?after=" + (feed.dataset.lastSeq || 0));
    es.addEventListener("ready", function () { streamState.textContent = "live"; });
    es.onopen = function () { streamState.textContent = "live"; };
    es.onerror = function () { streamState.textContent = "reconnecting…"; };
    es.onmessage = function (m) {
      streamState.textContent = "live";
      addEvent(JSON.parse(m.data));
      refresh();
    };
  }

  function form(b) {
    var p = new URLSearchParams();
    p.set("Action", b.dataset.action);
    p.set("Version", "2015-02-02");
    if (b.dataset.action === "RebootCacheCluster") {
      p.set("CacheClusterId", b.dataset.cluster);
      p.set("CacheNodeIdsToReboot.CacheNodeId.1", b.dataset.node);
      return { params: p, what: "reboot node " + b.dataset.cluster + "/" + b.dataset.node };
    }
    p.set("ReplicationGroupId", b.dataset.group);
    p.set("NodeGroupId", b.dataset.shard || "0001");
    return { params: p, what: "test failover of " + b.dataset.group + " shard " + (b.dataset.shard || "0001") };
  }

  document.addEventListener("click", function (ev) {
    var copy = ev.target.closest("button.copy");
    if (copy) {
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy);
      result.textContent = "copied " + copy.dataset.copy;
      return;
    }
    var b = ev.target.closest("button[data-action]");
    if (!b) return;
    var f = form(b);
    if (!window.confirm(f.what + "?")) return;
    result.textContent = f.what + "…";
    // The account and region are named by the credential scope, as SigV4 names them.
    var scope = b.dataset.account + "/19700101/" + b.dataset.region + "/elasticache/aws4_request";
    fetch("/", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=" + scope,
      },
      body: f.params.toString(),
    })
      .then(function (r) { return r.text().then(function (t) { return [r.status, t]; }); })
      .then(function (st) {
        var code = /<Code>([^<]*)<\/Code>/.exec(st[1]);
        var msg = /<Message>([^<]*)<\/Message>/.exec(st[1]);
        result.textContent = st[0] === 200
          ? f.what + ": accepted"
          : f.what + ": " + (code ? code[1] : st[0]) + (msg ? " — " + msg[1] : "");
        refresh();
      })
      .catch(function (e) { result.textContent = f.what + ": " + e; });
  });
})();
