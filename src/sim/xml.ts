/**
 * A small XML reader for MQSim's files (ssdconfig.xml, workload.xml, result
 * XML): elements, attributes and text, no namespaces, DTDs or entities
 * beyond the five predefined ones. Errors name the file, line and what was
 * expected. The project has no XML dependency and MQSim's files need no more.
 */
import { ERR_MQSIM_XML } from '../errors.js';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  line: number;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ENTITIES[e]!);
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const TOKEN = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([^\s>]+)\s*>|<([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*"[^"]*")*)\s*(\/?)>/g;

export function parseXml(xml: string, file: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '', line: 1 };
  const stack: XmlElement[] = [root];
  let line = 1;
  let last = 0;
  const lineAt = (idx: number): number => {
    for (let i = last; i < idx; i++) if (xml.charCodeAt(i) === 10) line++;
    last = idx;
    return line;
  };
  let pos = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(xml); m; m = TOKEN.exec(xml)) {
    const between = xml.slice(pos, m.index);
    if (between.includes('<')) throw ERR_MQSIM_XML(file, `line ${lineAt(pos + between.indexOf('<'))}`, 'a well-formed tag');
    stack[stack.length - 1]!.text += decode(between);
    pos = TOKEN.lastIndex;
    const at = lineAt(m.index);
    if (m[1] !== undefined) {
      stack[stack.length - 1]!.text += m[1];
    } else if (m[2] !== undefined) {
      const open = stack.pop()!;
      if (open === root || open.name !== m[2])
        throw ERR_MQSIM_XML(
          file,
          `line ${at}`,
          open === root ? `no open element to close with </${m[2]}>` : `</${open.name}> (opened on line ${open.line}), found </${m[2]}>`,
        );
    } else if (m[3] !== undefined) {
      const attrs: Record<string, string> = {};
      for (const a of (m[4] ?? '').matchAll(/([^\s=]+)\s*=\s*"([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
      const el: XmlElement = { name: m[3], attrs, children: [], text: '', line: at };
      stack[stack.length - 1]!.children.push(el);
      if (m[5] !== '/') stack.push(el);
    }
  }
  const rest = xml.slice(pos);
  if (rest.includes('<')) throw ERR_MQSIM_XML(file, `line ${lineAt(pos + rest.indexOf('<'))}`, 'a well-formed tag');
  if (stack.length > 1) throw ERR_MQSIM_XML(file, 'end of file', `</${stack[stack.length - 1]!.name}> (opened on line ${stack[stack.length - 1]!.line})`);
  if (root.children.length !== 1) throw ERR_MQSIM_XML(file, 'document', `exactly one root element, found ${root.children.length}`);
  return root.children[0]!;
}

/** Depth-first search for elements with this name. */
export function findAll(el: XmlElement, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    findAll(c, name, out);
  }
  return out;
}
