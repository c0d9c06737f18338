// The test DNS server: a real DNS implementation (npm dns2) answering TXT
// questions over UDP and TCP from records the browser tests publish through a
// small HTTP control port, the way an admin adds a record at their DNS provider.
//   PUT    /records/<name>   body: the TXT value (adds it)
//   DELETE /records/<name>   removes every value of the name
// Unknown names answer NXDOMAIN, as a real zone would.
import dns2 from "dns2";
import http from "node:http";

const { Packet } = dns2;

export function startDnsPeer({ dnsPort, controlPort }) {
  /** name (lower case, no trailing dot) -> TXT values */
  const records = new Map();
  const dns = dns2.createServer({
    udp: true,
    tcp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      const values = records.get(question.name.toLowerCase().replace(/\.$/, ""));
      if (!values) {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
      } else if (question.type === Packet.TYPE.TXT) {
        for (const data of values) {
          response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data });
        }
      }
      send(response);
    },
  });
  dns.listen({ udp: { port: dnsPort, address: "127.0.0.1" }, tcp: { port: dnsPort, address: "127.0.0.1" } });

  const control = http.createServer((req, res) => {
    const match = /^\/records\/([^/]+)$/.exec(req.url ?? "");
    if (!match) {
      res.writeHead(404).end("not found");
      return;
    }
    const name = decodeURIComponent(match[1]).toLowerCase().replace(/\.$/, "");
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (req.method === "PUT") {
        records.set(name, [...(records.get(name) ?? []), body]);
      } else if (req.method === "DELETE") {
        records.delete(name);
      } else {
        res.writeHead(405).end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  control.listen(controlPort, "127.0.0.1");
  return {
    close: () => {
      control.close();
      dns.close();
    },
  };
}
