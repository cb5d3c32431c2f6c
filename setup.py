"Package metadata, read from settings.ini so that nbdev and pip agree."
from configparser import ConfigParser
from pathlib import Path
import setuptools

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': 'Apache-2.0'}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
readme = Path('README.md')

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=readme.read_text(encoding='utf-8') if readme.exists() else cfg['description'],
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=licenses[cfg['license']],
    keywords=cfg['keywords'].split(),
    url=cfg['git_url'],
    classifiers=[
        f"Development Status :: {cfg['status']} - {statuses[int(cfg['status']) - 1]}",
        f"Intended Audience :: {cfg['audience'].title()}",
        f"Natural Language :: {cfg['language'].title()}",
        'Programming Language :: Python :: 3',
    ],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    python_requires='>=' + cfg['min_python'],
    install_requires=cfg.get('requirements', '').split(),
    extras_require={'dev': cfg.get('dev_requirements', '').split()},
    entry_points={'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
