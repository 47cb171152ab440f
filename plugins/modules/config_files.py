#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the lvs.cluster authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: config_files
short_description: Write a host's small configuration files in one task
version_added: 0.1.0
description:
  - Makes each listed file hold the given content and mode, or makes it absent, in one module run. The
    roles keep their boot units, boot scripts, C(sysctl.d) and C(modules-load.d) files with it. A
    M(ansible.builtin.template) or M(ansible.builtin.copy) task costs two module runs on the host even
    when nothing changes (a checksum, then the file attributes). With six files on a director, that is
    twelve round trips; this module makes it one.
  - Every entry is checked before any file is touched. An invalid entry fails the task, names its field
    (for example C(files[2].mode)) and writes nothing.
  - Files are handled in list order. A changed file is written to a temporary file in its own directory,
    validated with O(files[].validate) when given, and renamed over the old one, so readers never see half
    a file. If a validation fails, that file and the ones after it stay as they were. The ones before it
    are written, and the failure names them. List a file that a validation command needs before the file
    it validates.
  - Missing parent directories are created with O(directory_mode). A symbolic link is removed with
    O(files[].state=absent), never followed; one where content belongs is refused.
  - Owner and group are those of the user the module runs as (root, for the roles). SELinux contexts are
    not managed.
author: LVS cluster maintainers (@lvs-cluster)
attributes:
  check_mode:
    support: full
    details: Nothing is written and no validation runs; the result shows what a real run would change.
  diff_mode:
    support: full
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  files:
    description: The files, handled in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file. Each path may appear only once.
        type: path
        required: true
      content:
        description:
          - The whole content of the file (text, written as UTF-8). Required with O(files[].state=present);
            with V(absent), omitted or empty.
        type: str
      mode:
        description: Permissions, as an octal string such as V('0644').
        type: str
        default: '0644'
      state:
        description: Whether the file exists with this content and mode, or does not exist.
        type: str
        choices: [absent, present]
        default: present
      validate:
        description:
          - A command that must exit 0 for the new content before it replaces the file, with V(%s) standing
            for the temporary file. Runs without a shell, only when the content changes, never in check mode.
        type: str
  directory_mode:
    description: Permissions of the parent directories this module creates, as an octal string.
    type: str
    default: '0755'
'''

EXAMPLES = r'''
- name: Boot script and unit, one round trip
  lvs.cluster.config_files:
    files:
      - path: /usr/local/sbin/example-boot
        content: "{{ lookup('ansible.builtin.template', 'example-boot.j2') }}"
        mode: '0755'
      - path: /etc/systemd/system/example.service
        content: "{{ lookup('ansible.builtin.template', 'example.service.j2') }}"
      - path: /etc/modules-load.d/example.conf
        state: absent
  register: written

- name: A file proven by a command before it replaces the old one
  lvs.cluster.config_files:
    files:
      - path: /etc/example/rules
        content: "{{ rules_text }}"
        validate: /usr/local/bin/example-check %s
'''

RETURN = r'''
stderr:
  description: When a validation failed, what its command printed on standard error (C(rc) and C(stdout) too).
  returned: failure of a validation
  type: str
changed_paths:
  description: The paths that were changed (in check mode, that a real run would change), in list order.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/example.service]
'''

import os
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

MODE_ACCEPTED = "an octal string from '0000' to '7777', such as '0644'"


class Invalid(Exception):
    """One invalid entry: its field and what is accepted."""


def parse_mode(value, field):
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not text or mode < 0 or mode > 0o7777:
        raise Invalid('%s: %r is not a mode (accepted: %s)' % (field, value, MODE_ACCEPTED))
    return mode


def check_entries(files):
    """The entries with their modes parsed; Invalid on the first bad one (nothing is touched before)."""
    seen = set()
    checked = []
    for index, entry in enumerate(files):
        where = 'files[%d]' % index
        path = entry['path']
        if not path or not os.path.isabs(path) or path.endswith('/'):
            raise Invalid('%s.path: %r is not an absolute file path (accepted: an absolute path such as '
                          '/etc/example.conf)' % (where, path))
        path = os.path.normpath(path)
        if path in seen:
            raise Invalid('%s.path: %s is listed twice (accepted: each path once)' % (where, path))
        seen.add(path)
        present = entry['state'] == 'present'
        if present and entry['content'] is None:
            raise Invalid('%s.content: required with state present (accepted: the text of the file)' % where)
        if not present and entry['content']:
            raise Invalid('%s.content: not with state absent (accepted: no content, or an empty one)' % where)
        validate = entry['validate']
        if validate is not None and (not present or '%s' not in validate):
            raise Invalid('%s.validate: %r (accepted: a command containing %%s, with state present)' % (where, validate))
        checked.append({'path': path, 'present': present, 'mode': parse_mode(entry['mode'], where + '.mode'),
                        'content': (entry['content'] or '').encode('utf-8'), 'validate': validate})
    return checked


def read_current(path, present):
    """(bytes, mode) of the file, or (None, None) when there is none; a directory or device fails, and so
    does a symbolic link that should hold content (one to remove is removed, not followed)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if stat.S_ISLNK(info.st_mode) and not present:
        return ('-> %s\n' % os.readlink(path)).encode(), None
    if not stat.S_ISREG(info.st_mode):
        raise Invalid('%s exists and is not a regular file (accepted: a regular file or no file)' % path)
    with open(path, 'rb') as handle:
        return handle.read(), stat.S_IMODE(info.st_mode)


def plan(entries):
    """[(entry, old content, old mode, what changes)] for the entries that change."""
    changes = []
    for entry in entries:
        old, old_mode = read_current(entry['path'], entry['present'])
        if not entry['present']:
            if old is not None:
                changes.append((entry, old, old_mode, 'removed'))
        elif old is None:
            changes.append((entry, old, old_mode, 'created'))
        elif old != entry['content']:
            changes.append((entry, old, old_mode, 'content'))
        elif old_mode != entry['mode']:
            changes.append((entry, old, old_mode, 'mode'))
    return changes


def make_parents(path, directory_mode):
    missing = []
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory)
        os.chmod(directory, directory_mode)  # mkdir's mode is masked by the umask


def write(module, entry, directory_mode):
    """Write one file atomically, after its validation; None, or the failure's fail_json arguments (the
    old file is then untouched)."""
    path = entry['path']
    make_parents(path, directory_mode)
    handle, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, 'wb') as output:
            output.write(entry['content'])
        os.chmod(temporary, entry['mode'])
        if entry['validate']:
            argv = [word.replace('%s', temporary) for word in shlex.split(entry['validate'])]
            rc, out, err = module.run_command(argv)
            if rc != 0:
                return {'msg': 'validation of %s failed (rc %d, %s): %s' % (path, rc, ' '.join(argv), (err or out).strip()),
                        'rc': rc, 'stdout': out, 'stderr': err}
        os.replace(temporary, path)
        temporary = None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
    return None


def diff_of(entry, old, old_mode, what):
    before = '' if old is None else old.decode('utf-8', 'replace')
    after = '' if not entry['present'] else entry['content'].decode('utf-8')
    if what == 'mode':
        before, after = 'mode %04o\n' % old_mode, 'mode %04o\n' % entry['mode']
    return {'before_header': entry['path'], 'after_header': entry['path'], 'before': before, 'after': after}


def main():
    module = AnsibleModule(argument_spec={
        'files': {'type': 'list', 'elements': 'dict', 'required': True, 'options': {
            'path': {'type': 'path', 'required': True},
            'content': {'type': 'str'},
            'mode': {'type': 'str', 'default': '0644'},
            'state': {'type': 'str', 'choices': ['absent', 'present'], 'default': 'present'},
            'validate': {'type': 'str'},
        }},
        'directory_mode': {'type': 'str', 'default': '0755'},
    }, supports_check_mode=True)
    try:
        directory_mode = parse_mode(module.params['directory_mode'], 'directory_mode')
        changes = plan(check_entries(module.params['files']))
    except Invalid as exc:
        module.fail_json(msg=str(exc))
    result = {'changed': bool(changes), 'changed_paths': [entry['path'] for entry, _o, _m, _w in changes]}
    if module._diff:
        result['diff'] = [diff_of(*change) for change in changes]
    if module.check_mode:
        module.exit_json(**result)
    done = []
    for entry, _old, _mode, what in changes:
        if what == 'removed':
            os.unlink(entry['path'])
        elif what == 'mode':
            os.chmod(entry['path'], entry['mode'])
        else:
            failure = write(module, entry, directory_mode)
            if failure:
                failure['msg'] += '; written before it: %s' % (', '.join(done) or 'nothing')
                module.fail_json(changed=bool(done), changed_paths=done, **failure)
        done.append(entry['path'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
