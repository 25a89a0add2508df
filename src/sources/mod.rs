//! Sources: the Docusign APIs events come from.
