"""The desk pages of this domain (see docs/architecture.md): link requests and the linker's queue
(`requests`, its buttons in `decisions`), links (`links`), import runs with the XML upload and the FHIR pull
(`uploads`), imported visits and lab results (`records`); what the pages show is built in `widgets`; the
sidebar group in `nav`. his/admin.py imports the page modules so Django's admin autodiscover registers them."""
