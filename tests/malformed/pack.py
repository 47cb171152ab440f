"""Pack what the harness needs on a guest into one tar.gz (path given as the only argument): harness.py
and cases.py, the controller's ansible.module_utils (what AnsiballZ would ship, under an empty
`ansible` package), and the collection's modules and module_utils under ansible_collections/lvs/cluster.
"""
import os
import sys
import tarfile

import ansible.module_utils

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def skip_caches(info):
    return None if '__pycache__' in info.name or info.name.endswith('.pyc') else info


def main(target):
    with tarfile.open(target, 'w:gz') as tar:
        for name in ('harness.py', 'cases.py'):
            tar.add(os.path.join(HERE, name), arcname=name)
        empty = tarfile.TarInfo('ansible/__init__.py')
        tar.addfile(empty)
        tar.add(os.path.dirname(ansible.module_utils.__file__), arcname='ansible/module_utils', filter=skip_caches)
        for part in ('module_utils', 'modules'):
            tar.add(os.path.join(ROOT, 'plugins', part), arcname='ansible_collections/lvs/cluster/plugins/' + part,
                    filter=skip_caches)


if __name__ == '__main__':
    main(sys.argv[1])
