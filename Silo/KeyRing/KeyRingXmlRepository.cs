using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using OrleansSessions.Storage;

namespace OrleansSessions.Silo.KeyRing;

/// <summary>
/// Keeps the Data Protection key ring in the durable store, so every node, and every restart,
/// opens every cookie any node sealed.
/// </summary>
public sealed class KeyRingXmlRepository(IKeyRingStore store) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() =>
        store.ReadKeyRingElements().Select(XElement.Parse).ToList();

    public void StoreElement(XElement element, string friendlyName) =>
        store.StoreKeyRingElement(friendlyName, element.ToString(SaveOptions.DisableFormatting));
}
