#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   docs/render.py SCAN.json DOCSDIR OUTDIR
#
# From what docs/plugins-scanner.c wrote (SCAN.json), writes into OUTDIR:
#   plugins/gst_plugins_cache.json   sorted keys, four spaces, UTF-8 as it
#       is: as GStreamer writes its caches (gst-plugins-doc-cache-generator.py),
#       with a final newline
#   index.md, ELEMENT.md             DOCSDIR's pages, with what lies between
#       their "<!-- BEGIN name -->" and "<!-- END name -->" lines made anew
#       from the cache: "elements" (index.md), "summary" and "properties"
#       (an element's page)
# docs/update-cache.sh runs it; see there.

import json
import os
import re
import sys

BLOCK = re.compile(r'(<!-- BEGIN (\S+)[^\n]*-->\n)(.*?)(<!-- END \2 -->)', re.S)


def cell(text):
    """A table cell: the cache's doubled '%' single again, '|' escaped."""
    return str(text).replace('%%', '%').replace('|', '\\|').replace('\n', ' ')


def code(text):
    return '`%s`' % cell(text)


def flags(prop):
    out = [name for name in ('readable', 'writable', 'construct',
                             'construct-only', 'controllable',
                             'conditionally-available') if prop.get(name)]
    if prop.get('mutable', 'null') != 'null':
        out.append('mutable %s' % prop['mutable'])
    return ', '.join(out)


def caps_summary(caps):
    lines = [line.strip() for line in caps.strip().split('\n') if line.strip()]
    return '; '.join(lines)


def elements_block(plugins):
    out = ['| element | plugin | klass | description |',
           '|---|---|---|---|']
    for pname, plugin in sorted(plugins.items()):
        for ename, element in sorted(plugin['elements'].items()):
            out.append('| [%s](%s.md) | %s | %s | %s |' % (
                ename, ename, code(pname), cell(element.get('klass', '')),
                cell(element.get('description', ''))))
    return out


def summary_block(pname, plugin, element):
    out = ['| | |', '|---|---|',
           '| plugin | %s (file %s), package %s, license %s |' % (
               code(pname), code(plugin['filename']),
               cell(plugin['package']), cell(plugin['license'])),
           '| klass | %s |' % cell(element.get('klass', '')),
           '| rank | %s |' % cell(element.get('rank', '')),
           '| hierarchy | %s |' % ' → '.join(element.get('hierarchy', []))]
    if element.get('interfaces'):
        out.append('| interfaces | %s |' % ', '.join(element['interfaces']))
    for name, pad in sorted(element.get('pad-templates', {}).items()):
        out.append('| pad template %s | %s, %s, caps %s |' % (
            code(name), pad['direction'], pad['presence'],
            code(caps_summary(pad['caps']))))
    for name, signal in sorted(element.get('signals', {}).items()):
        out.append('| signal %s | %s (%s) |' % (
            code(name), signal['return-type'],
            ', '.join(a['type'] for a in signal['args'])))
    return out


def properties_block(plugin, element):
    props = element.get('properties', {})
    out = ['| property | type | default | range | flags | description |',
           '|---|---|---|---|---|---|']
    enums = []
    for name, prop in sorted(props.items()):
        rng = ''
        if 'min' in prop and 'max' in prop:
            rng = '%s to %s' % (prop['min'], prop['max'])
        out.append('| %s | %s | %s | %s | %s | %s |' % (
            code(name), cell(prop['type']),
            code(prop['default']) if 'default' in prop else '',
            rng, flags(prop), cell(prop.get('blurb', ''))))
        other = plugin.get('other-types', {}).get(prop['type'])
        if other and other.get('kind') in ('enum', 'flags') \
                and prop['type'] not in enums:
            enums.append(prop['type'])
    for type_name in enums:
        other = plugin['other-types'][type_name]
        out += ['', '%s values (%s):' % (code(type_name), other['kind']), '',
                '| value | name | description |', '|---|---|---|']
        for value in other.get('values', []):
            out.append('| %s | %s | %s |' % (
                value['value'], code(value['name']), cell(value['desc'])))
    return out


def fill(page, blocks):
    def replace(match):
        name = match.group(2)
        if name not in blocks:
            return match.group(0)
        return match.group(1) + ''.join(l + '\n' for l in blocks[name]) + \
            match.group(4)
    return BLOCK.sub(replace, page)


def main():
    scan, docsdir, outdir = sys.argv[1:4]
    with open(scan, encoding='utf-8') as f:
        plugins = json.load(f)

    os.makedirs(os.path.join(outdir, 'plugins'), exist_ok=True)
    with open(os.path.join(outdir, 'plugins', 'gst_plugins_cache.json'), 'w',
              encoding='utf-8', newline='\n') as f:
        json.dump(plugins, f, indent=4, sort_keys=True, ensure_ascii=False)
        f.write('\n')

    pages = {'index': {'elements': elements_block(plugins)}}
    for pname, plugin in plugins.items():
        for ename, element in plugin['elements'].items():
            pages[ename] = {
                'summary': summary_block(pname, plugin, element),
                'properties': properties_block(plugin, element),
            }
    for page, blocks in sorted(pages.items()):
        src = os.path.join(docsdir, page + '.md')
        if not os.path.exists(src):
            continue
        with open(src, encoding='utf-8') as f:
            text = f.read()
        with open(os.path.join(outdir, page + '.md'), 'w', encoding='utf-8',
                  newline='\n') as f:
            f.write(fill(text, blocks))


if __name__ == '__main__':
    main()
