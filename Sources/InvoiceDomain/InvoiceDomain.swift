// The pure domain core of InvoiceFlow: values and functions, no I/O.
